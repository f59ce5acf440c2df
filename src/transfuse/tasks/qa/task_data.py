"""The data hooks both QA tasks share (`qa` and `generative-qa`): one place for reading and checking SQuAD data.

`SquadTaskData` is mixed into each task class in front of `Task`: nested SQuAD JSON through `read_squad_json`
(flat csv / jsonl / parquet and Hub datasets go through the shared reader), the columns of `SquadColumns`,
the row checks of `find_bad_squad_rows` (with `--fix_answer_starts` counted), and the tokenizer training texts.
The task's `self.args` is a `SquadColumns` and `self.version_2_with_negative` says whether unanswerable
questions are allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from datasets import Dataset

from ...data.loading import RawSplit
from ...data.validation import BadRow
from .data import ANSWERS, find_bad_squad_rows, is_squad_document, read_squad_json

logger = logging.getLogger(__name__)


class SquadTaskData:
    """`handles_file`, `read_file`, `input_columns`, `target_columns`, `find_bad_rows`, `training_texts`."""

    args: Any
    version_2_with_negative: bool
    moved_answer_starts: int = 0

    @classmethod
    def handles_file(cls, path: str) -> bool:
        return is_squad_document(path)

    def read_file(self, path: str, flag: str, skip_bad_rows: bool) -> RawSplit:
        if self.args.answer_text_column:
            raise ValueError(
                f"{flag} {path!r} is a nested SQuAD JSON file, which carries its answers itself; drop "
                "--answer_text_column / --answer_start_column (they describe flat files)."
            )
        examples, report = read_squad_json(path, skip_bad_rows)
        renames = {
            "id": self.args.id_column,
            "question": self.args.question_column,
            "context": self.args.context_column,
            ANSWERS: self.args.answers_column,
        }
        renames = {old: new for old, new in renames.items() if old != new}
        if renames:
            examples = examples.rename_columns(renames)
        return RawSplit(examples, path, report)

    def input_columns(self) -> dict[str, str]:
        # the id too: predict's line i carries row i's id
        return {self.args.id_column: "--id_column", **self.args.input_columns()}

    def target_columns(self) -> dict[str, str]:
        return self.args.target_columns()

    def find_bad_rows(self, examples: Dataset, split: str) -> list[BadRow]:
        check = find_bad_squad_rows(examples, self.args, self.has_references(examples), self.version_2_with_negative)
        if check.moved_starts:
            logger.warning(
                "%s: --fix_answer_starts moved %d answer starts to the nearest occurrence of their text",
                split,
                check.moved_starts,
            )
        self.moved_answer_starts += check.moved_starts
        return check.bad_rows

    def training_texts(self, examples: Dataset) -> Iterator[str]:
        yield from examples[self.args.question_column]
        yield from examples[self.args.context_column]


__all__ = ["SquadTaskData"]
