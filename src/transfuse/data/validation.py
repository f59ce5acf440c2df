"""Checks of raw examples that run before anything is tokenized or trained.

A bad row found after an hour of training is an hour lost, so every split is checked up front: the columns a
task needs must exist (the error lists those that do), and each row is checked by the task (empty text, a
label the model cannot predict, a NaN target, ...). The outcome is either a `DataValidationError` that names
the source, the row and the column of the first problems, or, when the user asked for it with
`--skip_bad_rows`, the split without those rows and a `SkipReport` counting what was dropped and why.

Rows are numbered from 1 in messages, in the order they come from the source (a header line is not a row).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset

logger = logging.getLogger(__name__)

MAX_LISTED_PROBLEMS = 5


class DataValidationError(ValueError):
    """Raw data that cannot be used as given; the message names the source, row, column and the fix."""


@dataclass(frozen=True)
class BadRow:
    """One problem in one row: `index` is 0-based; `problem` is the category counted in skip reports."""

    index: int
    column: str
    problem: str
    detail: str = ""

    def describe(self, source: str) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{source}, row {self.index + 1}, column {self.column!r}: {self.problem}{detail}"


@dataclass
class SkipReport:
    """How many rows of one source were dropped, by reason (`"empty text in column 'text'"` -> 3)."""

    source: str
    total_rows: int
    reasons: Counter = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(self.reasons.values())

    def add(self, reason: str, count: int = 1) -> None:
        self.reasons[reason] += count

    def summary(self) -> str:
        reasons = "; ".join(f"{n} x {reason}" for reason, n in self.reasons.most_common())
        return f"skipped {self.skipped} of {self.total_rows} rows of {self.source}: {reasons}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "total_rows": self.total_rows,
            "skipped": self.skipped,
            "reasons": dict(self.reasons),
        }


def check_columns(examples: Dataset, required: Mapping[str, str], source: str) -> None:
    """Raise unless every column in `required` (column -> the flag that names it) exists in `examples`."""
    missing = {column: flag for column, flag in required.items() if column not in examples.column_names}
    if not missing:
        return
    problems = "; ".join(f"column {column!r} (set by {flag}) does not exist" for column, flag in missing.items())
    raise DataValidationError(
        f"{source}: {problems}. The columns are: {', '.join(map(repr, examples.column_names))}. "
        f"Rename the column in the data or point the flag at one of these."
    )


def find_bad_texts(values: Sequence[Any], column: str) -> list[BadRow]:
    """Rows whose text is missing (null), not a string, or empty / only whitespace."""
    bad = []
    for index, value in enumerate(values):
        if value is None:
            bad.append(BadRow(index, column, "missing text (null)"))
        elif not isinstance(value, str):
            bad.append(BadRow(index, column, "text is not a string", f"got {type(value).__name__} {value!r}"))
        elif not value.strip():
            bad.append(BadRow(index, column, "empty text"))
    return bad


def find_bad_numbers(values: Sequence[Any], column: str) -> list[BadRow]:
    """Rows whose value is missing, not a number, NaN or infinite (regression targets)."""
    bad = []
    for index, value in enumerate(values):
        if value is None:
            bad.append(BadRow(index, column, "missing target (null)"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            bad.append(BadRow(index, column, "target is not a number", f"got {type(value).__name__} {value!r}"))
        elif not math.isfinite(value):
            bad.append(BadRow(index, column, "target is NaN or infinite", f"got {value!r}"))
    return bad


def drop_bad_rows(
    examples: Dataset, bad_rows: Iterable[BadRow], source: str, skip: bool, report: SkipReport | None = None
) -> tuple[Dataset, SkipReport]:
    """Raise `DataValidationError` on any bad row, or, with `skip`, return the split without them.

    `report` carries rows already skipped while reading the source (unparsable lines); the returned report
    adds the rows dropped here.
    """
    report = report or SkipReport(source, total_rows=len(examples))
    bad_rows = sorted(bad_rows, key=lambda bad: (bad.index, bad.column))
    if not bad_rows:
        return examples, report
    if not skip:
        listed = "\n  ".join(bad.describe(source) for bad in bad_rows[:MAX_LISTED_PROBLEMS])
        more = len(bad_rows) - MAX_LISTED_PROBLEMS
        more_text = f"\n  ... and {more} more problems" if more > 0 else ""
        raise DataValidationError(
            f"{source} has {len(bad_rows)} bad value(s), found before any model was run:\n  "
            f"{listed}{more_text}\nFix these rows, or pass --skip_bad_rows to drop them (the run then "
            "reports how many were skipped)."
        )
    first_problem: dict[int, BadRow] = {}
    for bad in bad_rows:
        first_problem.setdefault(bad.index, bad)
    for bad in first_problem.values():
        report.add(f"{bad.problem} in column {bad.column!r}")
    keep = [index for index in range(len(examples)) if index not in first_problem]
    return examples.select(keep), report


def log_skips(reports: Iterable[SkipReport]) -> None:
    for report in reports:
        if report.skipped:
            logger.warning(report.summary())


__all__ = [
    "BadRow",
    "DataValidationError",
    "SkipReport",
    "check_columns",
    "drop_bad_rows",
    "find_bad_numbers",
    "find_bad_texts",
    "log_skips",
]
