"""`transfuse tokenizer train --train_files F... --vocab_size N --output_dir DIR`: a tokenizer from raw text.

Trains a byte-level BPE, WordPiece or Unigram tokenizer (`transfuse.tokenization.train_tokenizer`) on text
files, a Hub dataset or a local dataset (the same text sources as `transfuse pretrain`), and saves it where
`AutoTokenizer.from_pretrained(DIR)`, `transfuse pretrain --tokenizer_name DIR` and every task load it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, PreTrainedTokenizerFast

from ..pretraining.arguments import TextSourceArguments
from ..tokenization import KINDS, SPECIAL_TOKENS

USAGE = """usage: transfuse tokenizer train (--train_files FILE... | --dataset_name NAME) --output_dir DIR

Run `transfuse tokenizer train --help` for every option."""


@dataclass
class TokenizerTrainingArguments(TextSourceArguments):
    """The text to learn the vocabulary from, and the tokenizer to learn."""

    output_dir: str | None = field(default=None, metadata={"help": "Folder to save the tokenizer in (required)."})
    tokenizer_kind: str = field(
        default="bpe",
        metadata={
            "help": "bpe (byte-level, GPT-2/RoBERTa style), wordpiece (BERT) or unigram (SentencePiece style).",
            "choices": list(KINDS),
        },
    )
    vocab_size: int = field(default=8000, metadata={"help": "Vocabulary size, special tokens included."})
    min_frequency: int = field(default=2, metadata={"help": "bpe/wordpiece: least count of a merged pair."})
    model_max_length: int = field(
        default=512, metadata={"help": "Longest input the tokenizer lets through (truncation length)."}
    )
    lowercase: bool = field(default=False, metadata={"help": "Lower-case the text before tokenizing."})
    pad_token: str = field(default=SPECIAL_TOKENS["pad_token"], metadata={"help": "Padding token (id 0)."})
    unk_token: str = field(default=SPECIAL_TOKENS["unk_token"], metadata={"help": "Unknown token (id 1)."})
    bos_token: str = field(default=SPECIAL_TOKENS["bos_token"], metadata={"help": "Start / cls token (id 2)."})
    eos_token: str = field(default=SPECIAL_TOKENS["eos_token"], metadata={"help": "End / sep token (id 3)."})
    mask_token: str = field(default=SPECIAL_TOKENS["mask_token"], metadata={"help": "Mask token (id 4)."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a tokenizer in --output_dir."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.output_dir:
            raise ValueError("transfuse tokenizer train needs --output_dir DIR.")
        for flag in ("min_frequency", "model_max_length"):
            if getattr(self, flag) < 1:
                raise ValueError(f"--{flag} must be a positive integer, got {getattr(self, flag)}.")

    def special_tokens(self) -> dict[str, str]:
        return {role: getattr(self, role) for role in SPECIAL_TOKENS}


def training_texts(args: TokenizerTrainingArguments) -> Iterator[str]:
    """The documents of `--dataset_name` (text files are streamed by `train_tokenizer` itself)."""
    from ..pretraining.corpus import TEXT, load_text_corpus

    corpus = load_text_corpus(
        dataset_name=args.dataset_name,
        dataset_config_name=args.dataset_config,
        split=args.train_split_name,
        text_column=args.text_column,
        streaming=args.streaming,
    )
    return (row[TEXT] for row in corpus)


def train_from_arguments(args: TokenizerTrainingArguments) -> PreTrainedTokenizerFast:
    """Train the tokenizer `args` describes and save it to `args.output_dir`."""
    from ..pretraining.corpus import expand_text_files
    from ..tokenization import train_tokenizer

    output_dir = Path(args.output_dir)
    if (output_dir / "tokenizer.json").is_file() and not args.overwrite_output_dir:
        raise FileExistsError(
            f"--output_dir {str(output_dir)!r} already holds a tokenizer; choose another folder "
            "or pass --overwrite_output_dir."
        )
    source = {"files": expand_text_files(args.train_files)} if args.train_files else {"texts": training_texts(args)}
    tokenizer = train_tokenizer(
        **source,
        kind=args.tokenizer_kind,
        vocab_size=args.vocab_size,
        min_frequency=args.min_frequency,
        model_max_length=args.model_max_length,
        special_tokens=args.special_tokens(),
        lowercase=args.lowercase,
        encoding_errors=args.encoding_errors,
    )
    tokenizer.save_pretrained(output_dir)
    return tokenizer


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] != "train":
        print(
            f"transfuse tokenizer: unknown action {argv[0]!r}; the only action is `train`.\n{USAGE}",
            file=sys.stderr,
        )
        return 2
    parser = HfArgumentParser(TokenizerTrainingArguments, prog="transfuse tokenizer train")
    (args,) = parser.parse_args_into_dataclasses(args=argv[1:], look_for_args_file=False)
    tokenizer = train_from_arguments(args)
    print(f"trained a {args.tokenizer_kind} tokenizer with {len(tokenizer)} tokens -> {args.output_dir}")
    return 0
