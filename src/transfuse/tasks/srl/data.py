"""SRL data: rows of `tokens` / `predicate_index` / `tags`, their checks, and CoNLL-2005 bracket columns.

One row is one proposition: a sentence (its words, `tokens`), the index of its predicate word, and one BIO tag per
word (`["B-ARG0", "I-ARG0", "B-V", "O", ...]`), the layout of `shared/data/srl/ewt_propbank/*.jsonl`.

The CoNLL-2005 files hold a sentence per block (blank-line separated, `#` comment lines allowed), a word per line,
and one column of Start-End brackets per predicate, in sentence order: `(ARG0*` opens an argument, `*)` closes it,
`(V*)` is a one-word span, `*` is inside or outside. `read_conll` turns each column into one row; `write_conll`
writes rows back, grouping consecutive rows of the same sentence into one block. The layout is found per block:

* the word is the first column, or the second when the first counts 1, 2, 3, ... (an ID column);
* the argument columns are the trailing columns whose every cell is a bracket cell;
* the column just before them marks the predicates (anything but `-`: a lemma, a roleset) when there is one
  besides the word; otherwise each column's predicate is its `(V*` word.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ...data.validation import BadRow

BRACKET_CELL = re.compile(r"^(?:\(([^()*\s]+))?\*(?:[^()*\s]*(\)))?$")
OUTSIDE = "O"
PREDICATE_ROLE = "V"


class ConllFormatError(ValueError):
    """A CoNLL column file that cannot be read; the message names the file and line."""


# ---------------------------------------------------------------------------------------------------------
# BIO tags
# ---------------------------------------------------------------------------------------------------------


def role_of(tag: str) -> str | None:
    """`"B-ARG0"` -> `"ARG0"`; `"O"` -> None."""
    return tag[2:] if len(tag) > 2 and tag[1] == "-" and tag[0] in "BI" else None


def is_tag(tag: Any) -> bool:
    return isinstance(tag, str) and (tag == OUTSIDE or role_of(tag) is not None)


def bio_errors(tags: Sequence[str]) -> list[int]:
    """Positions of `I-X` tags that do not continue an `X` span (after `O`, at the start, or after another role)."""
    errors, previous = [], None
    for position, tag in enumerate(tags):
        role = role_of(tag)
        if tag.startswith("I-") and role != previous:
            errors.append(position)
        previous = role
    return errors


def repair_bio(tags: Sequence[str]) -> tuple[list[str], int]:
    """Turn every stray `I-X` into `B-X` (`--repair_bio`); returns the tags and how many were changed."""
    repaired, changed = list(tags), 0
    for position in bio_errors(tags):
        repaired[position] = "B-" + repaired[position][2:]
        changed += 1
    return repaired, changed


# ---------------------------------------------------------------------------------------------------------
# Row checks
# ---------------------------------------------------------------------------------------------------------


def find_bad_propositions(
    tokens: Sequence[Any],
    predicate_indexes: Sequence[Any] | None,
    tags: Sequence[Any] | None,
    columns: tuple[str, str, str],
    repair: bool,
) -> tuple[list[BadRow], Counter]:
    """Every row the task cannot use, and notes on rows it keeps (`predicate not tagged B-V`, repaired tags).

    `predicate_indexes` may hold None for a raw sentence (its predicates are found by the model); `tags` is None
    when the split has no references.
    """
    tokens_column, predicate_column, tags_column = columns
    bad: list[BadRow] = []
    notes: Counter = Counter()
    for index, words in enumerate(tokens):
        if not isinstance(words, (list, tuple)) or not words:
            bad.append(BadRow(index, tokens_column, "tokens are not a non-empty list of words", f"got {words!r}"))
            continue
        blank = [i for i, word in enumerate(words) if not isinstance(word, str) or not word.strip()]
        if blank:
            bad.append(BadRow(index, tokens_column, "empty or non-string word", f"at word {blank[0]}"))
            continue
        predicate = predicate_indexes[index] if predicate_indexes is not None else None
        if predicate is not None and (
            isinstance(predicate, bool) or not isinstance(predicate, int) or not 0 <= predicate < len(words)
        ):
            bad.append(
                BadRow(
                    index,
                    predicate_column,
                    "predicate_index out of range",
                    f"{predicate!r} for {len(words)} words (0-based)",
                )
            )
            continue
        if tags is None:
            continue
        row_tags = tags[index]
        if not isinstance(row_tags, (list, tuple)) or len(row_tags) != len(words):
            length = len(row_tags) if isinstance(row_tags, (list, tuple)) else row_tags
            bad.append(
                BadRow(index, tags_column, "tokens and tags differ in length", f"{len(words)} tokens, {length} tags")
            )
            continue
        unknown = [tag for tag in row_tags if not is_tag(tag)]
        if unknown:
            bad.append(BadRow(index, tags_column, "tag is not O, B-ROLE or I-ROLE", f"got {unknown[0]!r}"))
            continue
        errors = bio_errors(row_tags)
        if errors and not repair:
            bad.append(
                BadRow(
                    index,
                    tags_column,
                    "ill-formed BIO",
                    f"{row_tags[errors[0]]!r} at word {errors[0]} does not continue a span; "
                    "--repair_bio turns it into B-",
                )
            )
            continue
        if errors:
            notes["stray I- tags turned into B- (--repair_bio)"] += len(errors)
        if predicate is not None and row_tags[predicate] != "B-" + PREDICATE_ROLE:
            notes["predicate word not tagged B-V (predicate_index trusted)"] += 1
    return bad, notes


# ---------------------------------------------------------------------------------------------------------
# CoNLL-2005 bracket columns
# ---------------------------------------------------------------------------------------------------------


def brackets_to_bio(cells: Sequence[str], path: str, first_line: int) -> list[str]:
    """One predicate's Start-End column -> BIO tags; an unbalanced or nested bracket names file and line."""
    tags, open_role = [], None
    for offset, cell in enumerate(cells):
        match = BRACKET_CELL.match(cell)
        line = first_line + offset
        if match is None:
            raise ConllFormatError(f"{path}, line {line}: {cell!r} is not a bracket cell like (ARG0*, *, *) or (V*).")
        opened, closed = match.group(1), match.group(2)
        if opened and open_role is not None:
            raise ConllFormatError(
                f"{path}, line {line}: ({opened}* opens inside the unclosed ({open_role}*; close it with *) first."
            )
        if opened:
            tags.append("B-" + opened)
            open_role = opened
        elif open_role is not None:
            tags.append("I-" + open_role)
        else:
            tags.append(OUTSIDE)
        if closed:
            if open_role is None:
                raise ConllFormatError(f"{path}, line {line}: *) closes a bracket that was never opened.")
            open_role = None
    if open_role is not None:
        raise ConllFormatError(
            f"{path}, line {first_line + len(cells) - 1}: ({open_role}* is never closed before the sentence ends."
        )
    return tags


def bio_to_brackets(tags: Sequence[str]) -> list[str]:
    """BIO tags -> Start-End cells (a stray `I-X` opens a span, as conlleval reads it)."""
    cells = []
    for position, tag in enumerate(tags):
        role = role_of(tag)
        opens = role is not None and (tag.startswith("B-") or role_of(tags[position - 1] if position else "O") != role)
        following = tags[position + 1] if position + 1 < len(tags) else OUTSIDE
        closes = role is not None and not (following.startswith("I-") and role_of(following) == role)
        cells.append(("(" + role if opens else "") + "*" + (")" if closes else ""))
    return cells


def _blocks(path: str) -> Iterator[tuple[int, list[str], list[list[str]]]]:
    """(line number of the first word, comment lines, split word lines) per sentence block."""
    comments: list[str] = []
    rows: list[list[str]] = []
    first = 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                if rows:
                    yield first, comments, rows
                comments, rows = [], []
                continue
            if line.startswith("#") and not rows:
                comments.append(line)
                continue
            if not rows:
                first = number
            rows.append(line.split("\t") if "\t" in line else line.split())
    if rows:
        yield first, comments, rows


def _sent_id(comments: Iterable[str]) -> str | None:
    for comment in comments:
        key, _, value = comment.lstrip("#").partition("=")
        if key.strip() == "sent_id":
            return value.strip()
    return None


def read_conll(path: str | Path) -> list[dict[str, Any]]:
    """Rows `{"sent_id", "tokens", "predicate_index", "tags"}` from a CoNLL-2005-style file, one per predicate
    column, sentences in file order; a malformed block raises `ConllFormatError` naming file and line."""
    path = str(path)
    rows = []
    for first, comments, lines in _blocks(path):
        widths = {len(line) for line in lines}
        if len(widths) != 1:
            raise ConllFormatError(
                f"{path}, line {first}: the sentence's lines have {sorted(widths)} columns; every line of a "
                "sentence needs the same number."
            )
        width = widths.pop()
        has_id = width > 1 and all(line[0] == str(i + 1) for i, line in enumerate(lines))
        word_column = 1 if has_id else 0
        first_argument = width
        while first_argument - 1 > word_column and all(BRACKET_CELL.match(line[first_argument - 1]) for line in lines):
            first_argument -= 1
        tokens = [line[word_column] for line in lines]
        columns = [[line[c] for line in lines] for c in range(first_argument, width)]
        if first_argument - 1 > word_column:
            marks = [line[first_argument - 1] for line in lines]
            predicates = [i for i, mark in enumerate(marks) if mark != "-"]
            if len(predicates) != len(columns):
                raise ConllFormatError(
                    f"{path}, line {first}: {len(predicates)} predicate(s) marked in column {first_argument} "
                    f"but {len(columns)} argument column(s); give each marked predicate one column."
                )
        else:
            predicates = []
        sent_id = _sent_id(comments) or f"{Path(path).name}:{first}"
        for number, cells in enumerate(columns):
            tags = brackets_to_bio(cells, path, first)
            if predicates:
                predicate = predicates[number]
            elif "B-" + PREDICATE_ROLE in tags:
                predicate = tags.index("B-" + PREDICATE_ROLE)
            else:
                raise ConllFormatError(
                    f"{path}, line {first}: argument column {first_argument + number + 1} has no (V*) and the "
                    "file has no predicate column; mark the predicate with (V*)."
                )
            rows.append({"sent_id": sent_id, "tokens": tokens, "predicate_index": predicate, "tags": tags})
    return rows


def group_sentences(rows: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Consecutive rows of the same sentence (same tokens and sent_id) -> (first row, its rows)."""
    groups: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for row in rows:
        key = (row.get("sent_id"), list(row["tokens"]))
        if groups and (groups[-1][0].get("sent_id"), list(groups[-1][0]["tokens"])) == key:
            groups[-1][1].append(row)
        else:
            groups.append((row, [row]))
    return groups


def conll_lines(tokens: Sequence[str], frames: Sequence[tuple[int, Sequence[str]]], sent_id: str | None) -> list[str]:
    """One sentence block: `ID FORM PREDICATE ARGS...` (tab-separated), the predicate column holding the word."""
    frames = sorted(frames, key=lambda frame: frame[0])
    predicates = {predicate for predicate, _ in frames}
    columns = [bio_to_brackets(tags) for _, tags in frames]
    lines = [f"# sent_id = {sent_id}"] if sent_id else []
    for i, word in enumerate(tokens):
        cells = [str(i + 1), word, word if i in predicates else "-", *(column[i] for column in columns)]
        lines.append("\t".join(cells))
    return lines


def write_conll(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write rows (`tokens`, `predicate_index`, `tags`, optional `sent_id`) as CoNLL blocks, one per sentence."""
    blocks = []
    for first, members in group_sentences(rows):
        frames = [(row["predicate_index"], row["tags"]) for row in members]
        blocks.append("\n".join(conll_lines(first["tokens"], frames, first.get("sent_id"))))
    Path(path).write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


__all__ = [
    "BRACKET_CELL",
    "ConllFormatError",
    "bio_errors",
    "bio_to_brackets",
    "brackets_to_bio",
    "conll_lines",
    "find_bad_propositions",
    "group_sentences",
    "is_tag",
    "read_conll",
    "repair_bio",
    "role_of",
    "write_conll",
]
