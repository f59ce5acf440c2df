"""`TranslationArguments`: the options of `transfuse train|evaluate|predict translation`.

Direction (`--source_lang` / `--target_lang`), the vocabularies of a `--preset` model (one shared, or one per
language with `--separate_vocabularies`), lengths, decoding (beam size, length penalty, n-gram blocking, a
maximum output length relative to the source), checkpoint averaging, the attention plot and predict's output
format. Field names must not clash with the shared options (`training/arguments.py`) nor with
`Seq2SeqTrainingArguments` (hence `--num_beams` here and `--generation_num_beams` there: the latter, when set,
overrides the former for evaluation inside `transfuse train` only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

OUTPUT_FORMATS = ("jsonl", "text")


@dataclass
class TranslationArguments:
    """Which languages, how long, how to decode, and what to write besides the model."""

    # what only the training run does: not saved in the run's transfuse_task.json for its later evaluate/predict
    training_only: ClassVar[tuple[str, ...]] = ("average_checkpoints", "attention_plot")

    source_lang: str | None = field(
        default=None,
        metadata={
            "help": "Language code of the source side, as the data names it: the suffix of a parallel text "
            "file (`train.de`), a column of a csv/jsonl file, or a key of the `translation` dict. Required for "
            "training; evaluate/predict default to the trained model's."
        },
    )
    target_lang: str | None = field(
        default=None, metadata={"help": "Language code of the target side (see --source_lang)."}
    )
    source_prefix: str = field(
        default="",
        metadata={
            "help": "Text put before every source, for models trained with one (T5: `translate German to English: `)."
        },
    )
    separate_vocabularies: bool = field(
        default=False,
        metadata={
            "help": "--preset: train one tokenizer on the source language and one on the target language; the "
            "encoder embeds the source vocabulary, the decoder (tied to the output layer) the target one. Default: "
            "one tokenizer trained on both languages and one shared embedding table. The run folder keeps the "
            "target tokenizer in target_tokenizer/."
        },
    )
    target_vocab_size: int | None = field(
        default=None,
        metadata={
            "help": "Vocabulary size of the target tokenizer of --separate_vocabularies (default: the source "
            "tokenizer's, --vocab_size)."
        },
    )
    max_target_length: int = field(
        default=128,
        metadata={
            "help": "Longest target in tokens: longer training targets are truncated and counted; also "
            "the cap of a generated translation."
        },
    )
    truncation: bool = field(
        default=True,
        metadata={
            "help": "Truncate sources longer than --max_seq_length (or the model's positions) and count "
            "them; `false` refuses such rows instead."
        },
    )
    num_beams: int | None = field(
        default=None,
        metadata={
            "help": "Beam size (1 = greedy). Default: 4 for training; evaluate/predict use the trained "
            "model's generation config."
        },
    )
    length_penalty: float | None = field(
        default=None,
        metadata={
            "help": "Beam search: scores are divided by length**length_penalty (>1 favours longer "
            "outputs). Default 1.0, or the model's."
        },
    )
    no_repeat_ngram_size: int | None = field(
        default=None,
        metadata={"help": "Never repeat an n-gram of this size in an output (0 = off). Default 0, or the model's."},
    )
    max_length_ratio: float = field(
        default=1.5,
        metadata={
            "help": "At most ratio * source tokens + --max_length_offset new tokens per translation (as "
            "fairseq's max_len_a/max_len_b), never more than --max_target_length."
        },
    )
    max_length_offset: int = field(default=10, metadata={"help": "See --max_length_ratio."})
    average_checkpoints: int = field(
        default=0,
        metadata={
            "help": "Average the weights of the last N checkpoints (the final weights included) into the "
            "saved model (0 = off). Needs --save_total_limit unset or >= N."
        },
    )
    attention_plot: int = field(
        default=0,
        metadata={
            "help": "Write a PNG of the averaged cross-attention (source tokens x generated tokens) for "
            "the first N validation (train/evaluate) or input (predict) sentences (0 = off)."
        },
    )
    output_format: str = field(
        default="jsonl",
        metadata={
            "help": 'predict: `jsonl` writes {"translation": ...} per line; `text` the bare translation '
            "per line. Either way line i answers input row i.",
            "choices": list(OUTPUT_FORMATS),
        },
    )
    # not options, set by TranslationTask.check_arguments from the command and the shared options: where
    # --attention_plot draws; the kind of the target tokenizer (--tokenizer_kind); the target tokenizer of the run
    # that training continues from (--model_name_or_path of a run trained with --separate_vocabularies)
    plot_file: Path | None = field(default=None, init=False, repr=False)
    target_tokenizer_kind: str = field(default="bpe", init=False, repr=False)
    target_tokenizer_path: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.source_lang is not None and self.source_lang == self.target_lang:
            raise ValueError(
                f"--source_lang and --target_lang are both {self.source_lang!r}; a translation task needs two "
                "different languages (swap one of them for the other side's code)."
            )
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"--output_format {self.output_format!r}: choose one of {', '.join(OUTPUT_FORMATS)}.")
        if self.target_vocab_size is not None and not self.separate_vocabularies:
            raise ValueError(
                f"--target_vocab_size {self.target_vocab_size} sizes the target tokenizer of --separate_vocabularies; "
                "add --separate_vocabularies, or drop --target_vocab_size (one tokenizer: --vocab_size)."
            )
        for flag in ("max_target_length", "num_beams", "target_vocab_size"):
            value = getattr(self, flag)
            if value is not None and value <= 0:
                raise ValueError(f"--{flag} {value} must be a positive integer.")
        for flag in ("no_repeat_ngram_size", "average_checkpoints", "attention_plot", "max_length_offset"):
            value = getattr(self, flag)
            if value is not None and value < 0:
                raise ValueError(f"--{flag} {value} must be 0 or more.")
        if self.max_length_ratio <= 0:
            raise ValueError(f"--max_length_ratio {self.max_length_ratio} must be positive.")
        if self.average_checkpoints == 1:
            raise ValueError("--average_checkpoints 1 averages nothing; pass 2 or more, or 0 to turn it off.")


__all__ = ["OUTPUT_FORMATS", "TranslationArguments"]
