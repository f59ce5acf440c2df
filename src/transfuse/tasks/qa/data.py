"""SQuAD-shaped data: the published nested JSON, flat rows in the Hub's `squad` layout, and their checks.

Both question-answering tasks read the same examples: one row per question with `id`, `title`, `context`,
`question` and `answers = {"text": [...], "answer_start": [...]}` (character offsets into the context), the
layout of the Hub's `squad` / `squad_v2` datasets. An unanswerable SQuAD v2.0 question has empty lists.

* `read_squad_json` flattens the published files (`{"version", "data": [{"title", "paragraphs": [{"context",
  "qas": [{"id", "question", "answers", "is_impossible"?}]}]}]}`), naming the missing key when a file is not
  SQuAD-shaped.
* `answers_of` accepts the answer column in any of the forms people store it (the Hub's columnar dict, a list
  of `{"text", "answer_start"}`, either as a JSON string in a csv cell) or two flat columns (one answer per
  row: `--answer_text_column` + `--answer_start_column`).
* `find_bad_squad_rows` lists what the tasks cannot use: an empty question or context, a duplicate id, an
  answer whose `answer_start` does not point at its text (with `--fix_answer_starts`, moved to the nearest
  occurrence instead), an unanswerable question in a SQuAD v1.1 set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset

from ...data.validation import BadRow, DataValidationError, SkipReport, find_bad_texts

ANSWERS = "answers"
# the Hub squad layout, in its column order
SQUAD_COLUMNS = ("id", "title", "context", "question", ANSWERS)


class SquadFormatError(DataValidationError):
    """A JSON file that is not SQuAD-shaped; the message names the file, the entry and the missing key."""


@dataclass
class SquadColumns:
    """Where the id, question, context and answers are, for data in another layout than the Hub's `squad`."""

    id_column: str = field(
        default="id", metadata={"help": "Column with a unique question id (row numbers are used when it is absent)."}
    )
    question_column: str = field(default="question", metadata={"help": "Column with the question."})
    context_column: str = field(default="context", metadata={"help": "Column with the passage holding the answer."})
    answers_column: str = field(
        default=ANSWERS,
        metadata={
            "help": 'Column with the answers: {"text": [...], "answer_start": [...]} (the Hub squad layout), a '
            'list of {"text", "answer_start"}, or either as a JSON string (csv). Empty lists: unanswerable.'
        },
    )
    answer_text_column: str | None = field(
        default=None,
        metadata={"help": "Flat layout, one answer per row: column with the answer text (not --answers_column)."},
    )
    answer_start_column: str | None = field(
        default=None,
        metadata={
            "help": "Flat layout: column with the answer's character offset in the context (with "
            "--answer_text_column)."
        },
    )
    version_2_with_negative: bool = field(
        default=False,
        metadata={"help": "SQuAD v2.0: some questions have no answer in their context (empty answers)."},
    )
    fix_answer_starts: bool = field(
        default=False,
        metadata={
            "help": "Move an answer_start that does not point at its answer text to the nearest occurrence "
            "of the text in the context (the number moved is reported), instead of refusing the row."
        },
    )

    def __post_init__(self) -> None:
        if (self.answer_text_column is None) != (self.answer_start_column is None):
            raise ValueError(
                "--answer_text_column and --answer_start_column go together (one answer per row); pass both, "
                "or neither to read --answers_column."
            )
        names = [self.question_column, self.context_column, self.id_column]
        if len(set(names)) != len(names):
            raise ValueError(
                f"--id_column {self.id_column!r}, --question_column {self.question_column!r} and --context_column "
                f"{self.context_column!r} must name three different columns."
            )

    def input_columns(self) -> dict[str, str]:
        return {self.question_column: "--question_column", self.context_column: "--context_column"}

    def target_columns(self) -> dict[str, str]:
        if self.answer_text_column:
            return {self.answer_text_column: "--answer_text_column", self.answer_start_column: "--answer_start_column"}
        return {self.answers_column: "--answers_column"}


# ---------------------------------------------------------------------------------------------------------
# The published nested JSON
# ---------------------------------------------------------------------------------------------------------


def is_squad_document(path: str | Path) -> bool:
    """Whether `path` is one JSON object with a top-level `data` or `version` key (not JSON Lines or a list of
    rows). Cheap: looks at the first key only."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        head = handle.read(4096).lstrip()
    if not head.startswith("{"):
        return False
    decoder = json.JSONDecoder()
    body = head[1:].lstrip()
    try:
        key, _ = decoder.raw_decode(body)
    except json.JSONDecodeError:
        return False
    if key not in ("data", "version"):
        return False
    try:  # JSON Lines whose first row happens to have a `data` key: a second object follows on the next line
        with path.open(encoding="utf-8") as handle:
            json.load(handle)
    except json.JSONDecodeError:
        return False
    return True


def _require(entry: Any, key: str, where: str, source: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(entry, Mapping):
        raise SquadFormatError(f"{source}: {where} is a {type(entry).__name__}, not a JSON object; not SQuAD-shaped.")
    if key not in entry:
        raise SquadFormatError(
            f"{source}: {where} has no key {key!r} (it has {', '.join(map(repr, entry)) or 'no keys'}); a SQuAD "
            'file is {"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", '
            '"answers"}]}]}]}.'
        )
    value = entry[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SquadFormatError(f"{source}: {where}[{key!r}] is a {type(value).__name__}, expected {names}.")
    return value


def squad_rows(document: Any, source: str, skip_bad_rows: bool = False) -> tuple[list[dict[str, Any]], SkipReport]:
    """The nested SQuAD `document` as flat rows in the Hub layout, and what was skipped.

    A missing key above the questions (`data`, `paragraphs`, `context`, `qas`) always raises; a question entry
    without `id` or `question`, or with malformed answers, raises too unless `skip_bad_rows`, which counts it.
    `is_impossible: true` empties the answers (v2.0 keeps `plausible_answers` apart, never as references).
    """
    rows: list[dict[str, Any]] = []
    report = SkipReport(source, total_rows=0)
    for a, article in enumerate(_require(document, "data", "the top level", source, list)):
        title = article.get("title", "") if isinstance(article, Mapping) else ""
        for p, paragraph in enumerate(_require(article, "paragraphs", f"data[{a}]", source, list)):
            where = f"data[{a}].paragraphs[{p}]"
            context = _require(paragraph, "context", where, source, str)
            for q, qa in enumerate(_require(paragraph, "qas", where, source, list)):
                report.total_rows += 1
                try:
                    rows.append(_flat_question(qa, f"{where}.qas[{q}]", source, title, context))
                except SquadFormatError as err:
                    if not skip_bad_rows:
                        raise SquadFormatError(f"{err} Fix the entry, or pass --skip_bad_rows to drop it.") from None
                    report.add(str(err).split(": ", 1)[1].split(" (", 1)[0])
    return rows, report


def _flat_question(qa: Any, where: str, source: str, title: str, context: str) -> dict[str, Any]:
    qid = _require(qa, "id", where, source, (str, int))
    question = _require(qa, "question", where, source, str)
    if qa.get("is_impossible"):
        answers: list[Any] = []
    else:
        answers = _require(qa, ANSWERS, f"{where} (id {qid!r})", source, list)
    texts, starts = [], []
    for n, answer in enumerate(answers):
        texts.append(_require(answer, "text", f"{where}.answers[{n}] (id {qid!r})", source, str))
        starts.append(_require(answer, "answer_start", f"{where}.answers[{n}] (id {qid!r})", source, int))
    return {
        "id": str(qid),
        "title": title,
        "context": context,
        "question": question,
        ANSWERS: {"text": texts, "answer_start": starts},
    }


def read_squad_json(path: str | Path, skip_bad_rows: bool = False) -> tuple[Dataset, SkipReport]:
    """Read a published SQuAD v1.1 / v2.0 JSON file into flat examples (see `squad_rows`)."""
    source = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SquadFormatError(f"{source}: not valid JSON ({err.msg}, line {err.lineno} column {err.colno}).") from err
    rows, report = squad_rows(document, source, skip_bad_rows)
    if not rows:
        raise SquadFormatError(f"{source}: the SQuAD file holds no questions.")
    return Dataset.from_list(rows), report


# ---------------------------------------------------------------------------------------------------------
# Answers in any flat layout
# ---------------------------------------------------------------------------------------------------------


def canonical_answers(value: Any) -> dict[str, list] | None:
    """`{"text": [...], "answer_start": [...]}` from the forms answers come in, or None when `value` is none of
    them. Accepted: that dict (lists or one value each), a list of `{"text", "answer_start"}`, either as a
    JSON string, and null / an empty list (unanswerable)."""
    if value is None:
        return {"text": [], "answer_start": []}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, Mapping):
        if not {"text", "answer_start"} <= set(value):
            return None
        texts, starts = value.get("text"), value.get("answer_start")
        texts = texts if isinstance(texts, list) else [texts]
        starts = starts if isinstance(starts, list) else [starts]
        if len(texts) != len(starts):
            return None
        return {"text": texts, "answer_start": starts}
    if isinstance(value, list):
        if not all(isinstance(item, Mapping) and "text" in item and "answer_start" in item for item in value):
            return None
        return {"text": [item["text"] for item in value], "answer_start": [item["answer_start"] for item in value]}
    return None


def answers_of(examples: Dataset | Mapping[str, list], columns: SquadColumns) -> list[dict[str, list] | None]:
    """Each row's answers in the canonical form (None where the value cannot be read)."""
    if columns.answer_text_column:
        texts, starts = examples[columns.answer_text_column], examples[columns.answer_start_column]
        empty: dict[str, list] = {"text": [], "answer_start": []}
        return [
            dict(empty) if text is None or text == "" else {"text": [text], "answer_start": [start]}
            for text, start in zip(texts, starts)
        ]
    return [canonical_answers(value) for value in examples[columns.answers_column]]


def ids_of(examples: Dataset | Mapping[str, list], columns: SquadColumns, offset: int = 0) -> list[str]:
    """Each row's id as text; rows are numbered (from 1, as in error messages) when there is no id column."""
    names = examples.column_names if isinstance(examples, Dataset) else list(examples)
    if columns.id_column in names:
        return [str(value) for value in examples[columns.id_column]]
    count = len(examples) if isinstance(examples, Dataset) else len(examples[columns.question_column])
    return [str(offset + i + 1) for i in range(count)]


# ---------------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------------


def nearest_occurrence(context: str, text: str, start: int) -> int | None:
    """The start of the occurrence of `text` in `context` closest to `start`, or None if there is none."""
    best = None
    position = context.find(text)
    while position != -1:
        if best is None or abs(position - start) < abs(best - start):
            best = position
        position = context.find(text, position + 1)
    return best


def fix_answer_starts(context: str, answers: dict[str, list]) -> tuple[dict[str, list], int]:
    """`answers` with every misplaced `answer_start` moved to the nearest occurrence of its text, and the
    number moved (answers whose text is nowhere in the context are left for the checks to report)."""
    starts, moved = [], 0
    for text, start in zip(answers["text"], answers["answer_start"]):
        if isinstance(start, int) and context[start : start + len(text)] != text:
            found = nearest_occurrence(context, text, start) if text else None
            if found is not None:
                start, moved = found, moved + 1
        starts.append(start)
    return {"text": list(answers["text"]), "answer_start": starts}, moved


def _answer_problem(context: str, answers: dict[str, list], qid: str, column: str, index: int) -> BadRow | None:
    for text, start in zip(answers["text"], answers["answer_start"]):
        if not isinstance(text, str) or not text.strip():
            return BadRow(index, column, "empty answer text", f"id {qid!r}")
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            return BadRow(index, column, "answer_start is not a character offset", f"id {qid!r}: got {start!r}")
        if context[start : start + len(text)] != text:
            found = nearest_occurrence(context, text, start)
            where = f"the text occurs at {found}" if found is not None else "the text is nowhere in the context"
            return BadRow(
                index,
                column,
                "answer_start does not point at the answer text",
                f"id {qid!r}: context[{start}:{start + len(text)}] is {context[start : start + len(text)]!r}, the "
                f"answer is {text!r}, {where}; pass --fix_answer_starts to move it to the nearest occurrence",
            )
    return None


@dataclass
class SquadCheck:
    """What `find_bad_squad_rows` found: the bad rows, and how many answer starts `--fix_answer_starts` moved."""

    bad_rows: list[BadRow]
    moved_starts: int = 0


def find_bad_squad_rows(
    examples: Dataset, columns: SquadColumns, with_answers: bool, version_2_with_negative: bool
) -> SquadCheck:
    """Every row the QA tasks cannot use, each naming its id; see the module docstring for the list."""
    bad: list[BadRow] = []
    bad += find_bad_texts(examples[columns.question_column], columns.question_column)
    bad += find_bad_texts(examples[columns.context_column], columns.context_column)
    ids = ids_of(examples, columns)
    seen: dict[str, int] = {}
    for index, qid in enumerate(ids):
        if qid in seen:
            bad.append(BadRow(index, columns.id_column, "duplicate id", f"id {qid!r} is also row {seen[qid] + 1}"))
        else:
            seen[qid] = index
    check = SquadCheck(bad)
    if not with_answers:
        return check
    column = columns.answer_text_column or columns.answers_column
    contexts = examples[columns.context_column]
    for index, (qid, context, answers) in enumerate(zip(ids, contexts, answers_of(examples, columns))):
        if not isinstance(context, str):
            continue  # reported above
        if answers is None:
            bad.append(
                BadRow(
                    index,
                    column,
                    "answers are not SQuAD-shaped",
                    f'id {qid!r}: expected {{"text": [...], "answer_start": [...]}} or a list of such entries',
                )
            )
            continue
        if not answers["text"]:
            if not version_2_with_negative:
                bad.append(
                    BadRow(
                        index,
                        column,
                        "unanswerable question in a SQuAD v1.1 set",
                        f"id {qid!r} has no answer; pass --version_2_with_negative to train and score "
                        "no-answer predictions",
                    )
                )
            continue
        if columns.fix_answer_starts:
            answers, moved = fix_answer_starts(context, answers)
            check.moved_starts += moved
        problem = _answer_problem(context, answers, qid, column, index)
        if problem is not None:
            bad.append(problem)
    return check


__all__ = [
    "ANSWERS",
    "SQUAD_COLUMNS",
    "SquadCheck",
    "SquadColumns",
    "SquadFormatError",
    "answers_of",
    "canonical_answers",
    "find_bad_squad_rows",
    "fix_answer_starts",
    "ids_of",
    "is_squad_document",
    "nearest_occurrence",
    "read_squad_json",
    "squad_rows",
]
