"""`transfuse merge RUN_DIR --output_dir DIR`: fold a trained adapter into its base, export a plain model.

Parses `MergeArguments` (flags, or a YAML/JSON file) and calls `transfuse.adapters.merge_run`. The exported folder
loads with `AutoModelFor...from_pretrained(DIR)` without peft. For a QLoRA run the base is dequantized first; the
largest logit change against the unmerged model, on rows of `--sample_file` (or seeded random tokens), is
printed and written into the model card.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoTokenizer, HfArgumentParser

from ..adapters import is_adapter_folder, merge_run


@dataclass
class MergeArguments:
    """Which run to merge, where to write the merged model, and which inputs to measure the drift on."""

    run_dir: str = field(metadata={"help": "Run folder holding an adapter (adapter_config.json)."})
    output_dir: str = field(metadata={"help": "Folder for the merged model (safetensors, config, tokenizer, card)."})
    sample_file: str | None = field(
        default=None,
        metadata={
            "help": "csv/tsv/json/jsonl/parquet rows to measure the merge drift on; seeded "
            "random token ids when absent."
        },
    )
    text_column: str = field(default="text", metadata={"help": "Column of --sample_file holding the text."})
    text_pair_column: str | None = field(default=None, metadata={"help": "Second text column (sentence pairs)."})
    num_samples: int = field(default=32, metadata={"help": "Rows of --sample_file to compare on."})
    max_length: int = field(default=128, metadata={"help": "Truncation length of the sample rows."})
    overwrite_output_dir: bool = field(default=False, metadata={"help": "Replace a model already in --output_dir."})
    base_model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Base model to merge onto instead of the one recorded in the run's "
            "adapter_config.json (e.g. after the base folder moved)."
        },
    )

    def __post_init__(self) -> None:
        if not is_adapter_folder(self.run_dir):
            raise ValueError(
                f"{self.run_dir} holds no adapter_config.json: only adapter runs can be merged "
                "(a full fine-tuning run is already a plain model)."
            )
        if (Path(self.output_dir) / "config.json").is_file() and not self.overwrite_output_dir:
            raise ValueError(
                f"--output_dir {self.output_dir} already holds a model; pass --overwrite_output_dir to replace it."
            )
        if self.num_samples < 1:
            raise ValueError(f"--num_samples must be positive, got {self.num_samples}.")
        self.base_model_name_or_path = find_base_model(self.run_dir, self.base_model_name_or_path)


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def find_base_model(run_dir: str, override: str | None) -> str:
    """The base the adapter of `run_dir` merges onto: `override`, else the path or Hub id in its
    adapter_config.json (a relative path is tried against the run folder too); a local path that is gone fails
    here, naming it and the flag that replaces it."""
    from peft import PeftConfig

    if override is not None:
        if not Path(override).exists() and not HUB_ID.fullmatch(override):
            raise FileNotFoundError(f"--base_model_name_or_path {override} does not exist.")
        return override
    base = PeftConfig.from_pretrained(run_dir).base_model_name_or_path or ""
    for candidate in (Path(base), Path(run_dir) / base):
        if base and candidate.exists():
            return str(candidate)
    if base and HUB_ID.fullmatch(base) and not base.startswith("."):
        return base  # a Hub id (from the cache, or downloaded)
    raise FileNotFoundError(
        f"the base model of {run_dir}, {base or '(none recorded)'}, does not exist (adapter_config.json "
        "base_model_name_or_path); pass --base_model_name_or_path PATH_OR_HUB_ID to merge onto it from elsewhere."
    )


def sample_inputs(args: MergeArguments) -> dict | None:
    """Tokenized rows of `--sample_file` (tokenizer of the run, else of its base), or None."""
    if args.sample_file is None:
        return None
    from datasets import load_dataset

    suffix = Path(args.sample_file).suffix.lstrip(".")
    builder = {"jsonl": "json", "tsv": "csv"}.get(suffix, suffix)
    extra = {"delimiter": "\t"} if suffix == "tsv" else {}
    rows = load_dataset(builder, data_files=args.sample_file, split="train", **extra)
    for column in filter(None, (args.text_column, args.text_pair_column)):
        if column not in rows.column_names:
            raise ValueError(
                f"--sample_file {args.sample_file} has no column {column!r}; it has: "
                f"{', '.join(rows.column_names)} (set --text_column)."
            )
    rows = rows.select(range(min(args.num_samples, len(rows))))
    has_tokenizer = any((Path(args.run_dir) / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json"))
    source = args.run_dir if has_tokenizer else args.base_model_name_or_path
    tokenizer = AutoTokenizer.from_pretrained(source)
    pairs = list(rows[args.text_pair_column]) if args.text_pair_column else None
    encoded = tokenizer(
        list(rows[args.text_column]),
        pairs,
        truncation=True,
        max_length=args.max_length,
        padding=True,
        return_tensors="pt",
    )
    return {key: encoded[key] for key in ("input_ids", "attention_mask")}


def parse_merge_arguments(argv: list[str]) -> MergeArguments:
    """`RUN_DIR --output_dir DIR ...`; the run folder may also be given as `--run_dir`, or in a YAML/JSON file."""
    argv = list(argv)
    parser = HfArgumentParser(
        MergeArguments,
        prog="transfuse merge",
        description="Merge a trained adapter into its base and export a plain model.",
    )
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml", ".json")):
        parse = parser.parse_yaml_file if argv[0].endswith((".yaml", ".yml")) else parser.parse_json_file
        (args,) = parse(argv[0])
        return args
    if argv and not argv[0].startswith("-"):
        argv = ["--run_dir", argv[0], *argv[1:]]
    (args,) = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    return args


def main(argv: list[str]) -> int:
    args = parse_merge_arguments(argv)
    report = merge_run(
        args.run_dir,
        args.output_dir,
        sample_inputs(args),
        command=shlex.join(["transfuse", "merge", *argv]),
        base_model_name_or_path=args.base_model_name_or_path,
    )
    print(report.summary())
    return 0
