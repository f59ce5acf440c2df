"""`SrlArguments`: the options of `transfuse train|evaluate|predict srl`, and the defaults they fall back to.

Columns of the propositions, how the predicate is marked (`alignment.MARKINGS`), which head tags the words
(`TAGGING_HEADS`, one line per head), whether the model also learns to find predicates, how tags are decoded
(`decoding.DECODINGS`) and how predict writes them. A default that depends on the model (the marking and the head
need a token-type embedding) is settled in `SrlTask.check_arguments`, once the model's config is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import AutoModelForTokenClassification

from ...modeling.predicate_tagger import PredicateTaggerForTokenClassification
from .alignment import FALLBACK_MARKING, MARKINGS
from .decoding import DECODINGS

OUTPUT_FORMATS = ("jsonl", "conll")
# token type 1 on the predicate's sub-words: +4.6 span F1 over `pair` at equal steps, 13% less time per step than
# `pair_indicator`, and F1 0.761 in the full run (benchmarks/README.md, bench_srl.py part g); models without a
# token-type embedding get `pair`
DEFAULT_MARKING = "indicator"
# the model class that each --tagging_head trains (evaluate and predict load either through the Auto class)
TAGGING_HEADS = {"token": AutoModelForTokenClassification, "predicate": PredicateTaggerForTokenClassification}
# MiniLM, the shipped full config (8,500 steps): span F1 0.767 against the token head's 0.761, eval loss 0.308
# against 0.321, perfect propositions 0.635 against 0.624, at equal step time (benchmarks/README.md, part i)
DEFAULT_TAGGING_HEAD = "predicate"


@dataclass
class SrlArguments:
    """Columns of the propositions, how the predicate is marked, and how tags are decoded and written."""

    tokens_column: str = field(default="tokens", metadata={"help": "Column with the words of the sentence (a list)."})
    predicate_column: str = field(
        default="predicate_index",
        metadata={
            "help": "Column with the 0-based index of the predicate word; leave it out at predict time to "
            "have the model find the predicates (needs a model trained with --predicate_identifier)."
        },
    )
    tags_column: str = field(
        default="tags", metadata={"help": "Column with one BIO tag per word (B-ARG0, I-ARG0, O)."}
    )
    text_column: str = field(
        default="text",
        metadata={
            "help": "Column with a raw sentence, split into words here when the rows have no tokens column "
            "(also each line of a .txt file)."
        },
    )
    predicate_marking: str | None = field(
        default=None,
        metadata={
            "help": "How the model is told the predicate: pair (sentence + predicate word as a second segment, "
            "Shi & Lin 2019), markers (<predicate> ... </predicate> tokens added to the tokenizer), indicator "
            "(token type 1 on the predicate; models with a token-type embedding, e.g. BERT, or a transfuse "
            "model) or pair_indicator (both pair and indicator: the predicate's word and its position). "
            f"Default when training: {DEFAULT_MARKING}, or {FALLBACK_MARKING} for a model without a token-type "
            "embedding (RoBERTa, DistilBERT); at evaluate/predict, the model's own.",
            "choices": list(MARKINGS),
        },
    )
    tagging_head: str | None = field(
        default=None,
        metadata={
            "help": "token: the model's own token-classification head (each word's vector alone); predicate: each "
            "word's vector joined with the predicate's before the classifier (Shi & Lin 2019; needs a marking "
            "that sets token types: indicator, pair_indicator or pair, and a model with a token-type "
            f"embedding). Default: {DEFAULT_TAGGING_HEAD} where it applies, else token. Training only: evaluate "
            "and predict read the head from the model.",
            "choices": list(TAGGING_HEADS),
        },
    )
    classifier_hidden_size: int | None = field(
        default=None,
        metadata={
            "help": "The predicate head's classifier: a hidden layer of this width (GELU) between [word ; "
            "predicate] and the tags, so a word's scores depend on the pair; default: one linear layer. Training "
            "only, with --tagging_head predicate."
        },
    )
    predicate_identifier: bool = field(
        default=True,
        metadata={
            "help": "Train the model to find predicates too (each training sentence once unmarked, B-V on "
            "its predicates), so predict and the pipeline accept raw sentences."
        },
    )
    decoding: str = field(
        default="viterbi",
        metadata={
            "help": "viterbi: the best valid BIO sequence with the predicate word B-V and each core role "
            "(ARG0-ARG5, ARGA) at most once; viterbi_bio: the BIO rules alone; argmax: each word's best tag "
            "alone (may be invalid BIO).",
            "choices": list(DECODINGS),
        },
    )
    repair_bio: bool = field(
        default=False,
        metadata={
            "help": "Turn a stray I-X in the gold tags (after O or another role) into B-X and count it, "
            "instead of refusing the row."
        },
    )
    output_format: str = field(
        default="jsonl",
        metadata={
            "help": "predict's file: jsonl (one line per input row) or conll (CoNLL-2005 bracket columns, "
            "one block per sentence).",
            "choices": list(OUTPUT_FORMATS),
        },
    )

    def __post_init__(self) -> None:
        if self.predicate_marking is not None and self.predicate_marking not in MARKINGS:
            raise ValueError(
                f"--predicate_marking {self.predicate_marking!r} is not supported; choose one of "
                f"{', '.join(MARKINGS)}."
            )
        if self.tagging_head is not None and self.tagging_head not in TAGGING_HEADS:
            raise ValueError(
                f"--tagging_head {self.tagging_head!r} is not supported; choose one of {', '.join(TAGGING_HEADS)}."
            )
        if self.tagging_head == "predicate" and self.predicate_marking == "markers":
            raise ValueError(
                "--tagging_head predicate reads the predicate from its token types, which --predicate_marking "
                "markers does not set; use --predicate_marking indicator (or pair), or --tagging_head token."
            )
        if self.classifier_hidden_size is not None and self.classifier_hidden_size <= 0:
            raise ValueError(
                f"--classifier_hidden_size {self.classifier_hidden_size} must be a positive width (leave it out "
                "for one linear layer)."
            )
        if self.classifier_hidden_size is not None and self.tagging_head == "token":
            raise ValueError(
                "--classifier_hidden_size shapes the predicate head; --tagging_head token uses the model's own "
                "classifier. Use --tagging_head predicate, or drop --classifier_hidden_size."
            )
        if self.decoding not in DECODINGS:
            raise ValueError(f"--decoding {self.decoding!r} is not supported; choose one of {', '.join(DECODINGS)}.")
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(
                f"--output_format {self.output_format!r} is not supported; choose one of {', '.join(OUTPUT_FORMATS)}."
            )
        columns = [self.tokens_column, self.predicate_column, self.tags_column, self.text_column]
        if len(set(columns)) != len(columns):
            raise ValueError(
                "--tokens_column, --predicate_column, --tags_column and --text_column must name four different "
                f"columns, got {columns}."
            )
