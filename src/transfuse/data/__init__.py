"""Raw data in, validated examples and padded batches out, shared by every task.

* `loading`: Hub or local csv / tsv / json / jsonl / parquet splits, with unparsable rows located or skipped;
* `validation`: column and row checks that run before training (`DataValidationError`, `--skip_bad_rows`);
* `collators`: dynamic padding (multiple of 8; labels padded with -100);
* `demo_sentiment_{train,validation}.jsonl`: the small sentiment set behind `transfuse demo`
  (`demo_data_files`).
"""

from __future__ import annotations

from pathlib import Path

from .collators import seq2seq_collator, sequence_collator, token_collator
from .loading import DataLoadingError, RawSplit, load_file, load_splits
from .validation import BadRow, DataValidationError, SkipReport, check_columns, drop_bad_rows


def demo_data_files() -> dict[str, str]:
    """Paths of the embedded demo sentiment set (`{"train": ..., "validation": ...}`; columns text, label)."""
    here = Path(__file__).resolve().parent
    return {split: str(here / f"demo_sentiment_{split}.jsonl") for split in ("train", "validation")}


__all__ = [
    "BadRow",
    "DataLoadingError",
    "DataValidationError",
    "RawSplit",
    "SkipReport",
    "check_columns",
    "demo_data_files",
    "drop_bad_rows",
    "load_file",
    "load_splits",
    "seq2seq_collator",
    "sequence_collator",
    "token_collator",
]
