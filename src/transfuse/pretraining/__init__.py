"""Pretraining from raw text: corpus loading, packing into blocks, one objective per architecture, the run.

`run_pretraining(ModelArguments, PretrainingArguments, CorpusArguments, TrainingArguments)` is what
`transfuse pretrain` and `scripts/run_pretraining.py` call; the pieces below it are public, for reuse and
tests.
"""

from .arguments import (
    CorpusArguments,
    PretrainingArguments,
    PretrainingRun,
    TextSourceArguments,
    parse_pretraining_arguments,
)
from .corpus import load_text_corpus, read_documents
from .denoising import DataCollatorForTextInfilling, infill_spans, random_spans_noise_mask
from .model import build_model, check_model_fits, load_or_train_tokenizer, scratch_config
from .objectives import OBJECTIVES, Objective
from .packing import build_blocks, cut_blocks, iter_blocks, pack_dataset, pack_stream, tokenize_corpus
from .run import ThroughputCallback, evaluate_perplexity, run_pretraining

__all__ = [
    "OBJECTIVES",
    "CorpusArguments",
    "DataCollatorForTextInfilling",
    "Objective",
    "PretrainingArguments",
    "PretrainingRun",
    "TextSourceArguments",
    "ThroughputCallback",
    "build_blocks",
    "build_model",
    "check_model_fits",
    "cut_blocks",
    "evaluate_perplexity",
    "infill_spans",
    "iter_blocks",
    "load_or_train_tokenizer",
    "load_text_corpus",
    "pack_dataset",
    "pack_stream",
    "parse_pretraining_arguments",
    "random_spans_noise_mask",
    "read_documents",
    "run_pretraining",
    "scratch_config",
    "tokenize_corpus",
]
