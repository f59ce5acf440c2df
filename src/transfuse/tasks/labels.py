"""Label vocabularies: the names a model predicts, in id order, and how raw data values map onto them.

Shared by every task that predicts from a closed label set (sequence classification; token-level tasks such as
tagging and semantic role labelling). The names are learned from the training split, stored in the model
config (`id2label` / `label2id`) and restored from it, so predictions, model cards and `transformers.pipeline`
speak in the data's own names.

A data value is compared by its canonical text (`label_key`): `1`, `1.0` (an integer column read with nulls)
and `"1"` are one label. Integer labels without names keep their values as names; named classes
(`--class_names`, a Hub `ClassLabel`) also accept the integers 0..n-1 as their ids. A column that mixes both
kinds without names (`0`, `1`, `"negative"`, `"positive"`) is refused by `find_mixed_labels`: it would
silently become four classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..data.validation import BadRow

MAX_QUOTED_LABELS = 4


def label_key(value: Any) -> str:
    """The canonical text of a label value: `1`, `1.0` (an integer column read with nulls) and `"1"` agree."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_integer_text(text: str) -> bool:
    return text.lstrip("-").isdigit()


class LabelVocabulary:
    """The label names of a model, in id order, and the mapping of raw data values to ids.

    A value maps to the id of the name it spells; when no name is an integer, an integer value in range maps
    to itself (data labelled 0..n-1 against named classes, as in `--class_names` or a Hub `ClassLabel`).
    """

    def __init__(self, names: Sequence[str]):
        self.names = [str(name) for name in names]
        self._ids = {name: i for i, name in enumerate(self.names)}
        self._values_are_ids = not any(is_integer_text(name) for name in self.names)

    @classmethod
    def from_values(cls, values: Iterable[Any], names: Sequence[str] | None = None) -> LabelVocabulary:
        """`names` when given, else the distinct values: integers in numeric order, otherwise sorted."""
        if names:
            return cls(names)
        keys = {label_key(value) for value in values}
        if all(is_integer_text(key) for key in keys):
            return cls(sorted(keys, key=int))
        return cls(sorted(keys))

    def id_of(self, value: Any) -> int | None:
        key = label_key(value)
        if key in self._ids:
            return self._ids[key]
        if self._values_are_ids and is_integer_text(key) and 0 <= int(key) < len(self.names):
            return int(key)
        return None

    def describe(self, limit: int = 10) -> str:
        """The first `limit` names, quoted, for error messages."""
        return ", ".join(map(repr, self.names[:limit])) + (" ..." if len(self.names) > limit else "")

    def __len__(self) -> int:
        return len(self.names)


def find_mixed_labels(rows: Iterable[tuple[int, Sequence[Any]]], column: str) -> list[BadRow]:
    """Rows of a label column that mixes integer labels with named ones (`0`, `1`, `"negative"`), which would
    become separate classes; `rows` holds (row index, the row's labels), one label for single-label data. The
    rows of the smaller kind are reported, with both fixes: `--class_names` or one way of writing the labels."""
    kinds: dict[bool, list[int]] = {True: [], False: []}
    keys: dict[bool, dict[str, None]] = {True: {}, False: {}}
    for index, labels in rows:
        for key in {label_key(label) for label in labels}:
            integer = is_integer_text(key)
            keys[integer].setdefault(key)
            if not kinds[integer] or kinds[integer][-1] != index:
                kinds[integer].append(index)
    if not kinds[True] or not kinds[False]:
        return []
    odd = len(kinds[True]) <= len(kinds[False])  # report the integers on a tie: the names are the likely intent

    def quoted(integer: bool) -> str:
        shown = list(keys[integer])[:MAX_QUOTED_LABELS]
        return ", ".join(map(repr, shown)) + (" ..." if len(keys[integer]) > MAX_QUOTED_LABELS else "")

    detail = (
        f"the column holds integer labels ({quoted(True)}) and named labels ({quoted(False)}), which would become "
        "separate classes; pass --class_names with the names of the integers 0..n-1 in order, or write every "
        "label the same way"
    )
    problem = "integer label among named labels" if odd else "named label among integer labels"
    return [BadRow(index, column, problem, detail) for index in kinds[odd]]


__all__ = ["LabelVocabulary", "find_mixed_labels", "is_integer_text", "label_key"]
