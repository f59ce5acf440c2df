"""Semantic-role-labelling metrics: span-level precision/recall/F1 over BIO tags, computed by seqeval.

Standard CoNLL-2005 scoring (``srl-eval.pl``) counts exact argument spans and leaves out the predicate
span ``V`` -- tagging the verb you were given is free, so counting it would inflate every score. seqeval
has no option to ignore a type, so :func:`srl_metrics` relabels the tags of excluded types to ``O`` in
both predictions and references (the spans of other roles are unchanged by this) and then takes the micro
average and the per-role report from ``seqeval.metrics.classification_report``.

Role types are whatever follows the ``B-``/``I-`` prefix, so continuation and reference roles
(``B-C-A1``, ``B-R-A0``) are roles of their own in :func:`srl_metrics`.

:func:`conll05_metrics` follows the official script to the letter instead (``srl-eval.pl`` of the CoNLL-2005
shared task, Carreras and Marquez): a continuation phrase ``C-X`` joins the latest ``X`` argument before it into
one discontinuous argument, which is right only when every piece is (a ``C-X`` with no ``X`` before it becomes an
``X`` argument); reference roles ``R-X`` stay types of their own; an argument is right when its start, end (of the
first and last piece) and type match a gold argument; ``V`` is left out. Spans are read from the BIO tags the
conlleval way (seqeval's ``get_entities``: an ``I-X`` after ``O`` or after another type opens a span).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2

__all__ = ["conll05_metrics", "srl_metrics"]


def _drop_types(tags: Sequence[str], excluded: frozenset[str]) -> list[str]:
    """Replace ``B-X``/``I-X`` by ``O`` for every excluded type ``X`` (seqeval's prefix convention)."""
    return ["O" if len(tag) > 2 and tag[1] == "-" and tag[2:] in excluded else tag for tag in tags]


def _check_lengths(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
        )
    for i, (pred, ref) in enumerate(zip(predictions, references)):
        if len(pred) != len(ref):
            raise ValueError(f"example {i}: {len(pred)} predicted tags but {len(ref)} reference tags")


def srl_metrics(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    exclude_labels: Iterable[str] = ("V",),
    strict: bool = False,
) -> dict[str, Any]:
    """Micro-averaged span precision/recall/F1 and a per-role report from BIO tag sequences.

    Args:
        predictions: one tag sequence per (sentence, predicate), e.g. ``["B-A0", "I-A0", "B-V", "O"]``.
        references: gold tag sequences, same lengths as ``predictions``.
        exclude_labels: span types left out of all counts (default ``("V",)``, the CoNLL-2005 convention;
            pass ``()`` for plain seqeval/conlleval scoring, e.g. NER).
        strict: ``False`` (default) decodes spans like conlleval (an ``I-X`` after ``O`` opens a span);
            ``True`` uses seqeval's strict IOB2 mode, where only well-formed ``B-X I-X*`` spans count.

    Returns:
        ``{"precision", "recall", "f1", "per_role"}`` with 0-1 floats; ``per_role`` maps each role seen in
        predictions or references to ``{"precision", "recall", "f1", "support"}``. With no spans at all
        the scores are 0.0.
    """
    _check_lengths(predictions, references)
    excluded = frozenset(exclude_labels)
    y_pred = [_drop_types(list(seq), excluded) for seq in predictions]
    y_true = [_drop_types(list(seq), excluded) for seq in references]

    kwargs: dict[str, Any] = {"mode": "strict", "scheme": IOB2} if strict else {}
    with warnings.catch_warnings():
        # numpy warns "Mean of empty slice" for the macro/weighted averages when there are no spans at all;
        # those rows are discarded below and the micro average then falls back to 0.0.
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(y_true, y_pred, output_dict=True, zero_division=0, **kwargs)
    per_role = {
        role: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for role, row in report.items()
        if not role.endswith(" avg")
    }
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_role": per_role,
    }


# ---------------------------------------------------------------------------------------------------------
# The official CoNLL-2005 conventions (srl-eval.pl)
# ---------------------------------------------------------------------------------------------------------

Argument = tuple[str, int, int, tuple[tuple[int, int], ...]]  # (type, start, end, pieces)


def conll05_arguments(tags: Sequence[str]) -> list[Argument]:
    """The arguments of one proposition as srl-eval.pl builds them: ``C-X`` pieces joined to the latest ``X``.

    Returns ``(type, start, end, pieces)`` with inclusive word indices; ``pieces`` lists each phrase's
    ``(start, end)``, one for a continuous argument.
    """
    arguments: list[list] = []
    latest: dict[str, int] = {}  # type -> index in `arguments` of the latest argument of that type
    for role, start, end in get_entities(list(tags)):
        base = role[2:] if role.startswith("C-") else None
        if base is not None and base in latest:
            argument = arguments[latest[base]]
            argument[2] = end
            argument[3].append((start, end))
            continue
        role = base if base is not None else role
        latest[role] = len(arguments)
        arguments.append([role, start, end, [(start, end)]])
    return [(role, start, end, tuple(pieces)) for role, start, end, pieces in arguments]


def _score_proposition(gold: list[Argument], predicted: list[Argument], counts: dict, excluded: frozenset) -> None:
    """srl-eval.pl's `discriminate_args`: a predicted argument is right when a gold one has the same start, end,
    type and pieces; every other predicted argument is an excess, every unmatched gold one a miss."""
    by_extent = {(start, end): argument for argument in gold for start, end in [argument[1:3]]}
    for argument in predicted:
        match = by_extent.get(argument[1:3])
        if match is not None and match[0] == argument[0] and match[3] == argument[3]:
            del by_extent[argument[1:3]]
            _count(counts, argument[0], "ok", excluded)
        else:
            _count(counts, argument[0], "op", excluded)
    for argument in by_extent.values():
        _count(counts, argument[0], "ms", excluded)


def _count(counts: dict, role: str, outcome: str, excluded: frozenset) -> None:
    if role not in excluded:
        counts.setdefault(role, {"ok": 0, "op": 0, "ms": 0})[outcome] += 1


def _prf(ok: int, op: int, ms: int) -> tuple[float, float, float]:
    precision = ok / (ok + op) if ok + op else 0.0
    recall = ok / (ok + ms) if ok + ms else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def conll05_metrics(
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    exclude_labels: Iterable[str] = ("V",),
) -> dict[str, Any]:
    """CoNLL-2005 span precision/recall/F1 as ``srl-eval.pl`` computes them, from BIO tag sequences.

    Args:
        predictions: one tag sequence per proposition (sentence, predicate).
        references: the gold sequences, same lengths.
        exclude_labels: argument types left out of the counts (the script's ``%excluded``: ``V``).

    Returns:
        ``{"precision", "recall", "f1", "perfect_propositions", "per_role"}`` (0-1 floats); ``per_role`` maps
        each type to ``{"precision", "recall", "f1", "support", "correct", "excess", "missed"}`` where
        ``support`` is the number of gold arguments. With no arguments at all the scores are 0.0.
    """
    _check_lengths(predictions, references)
    excluded = frozenset(exclude_labels)
    counts: dict[str, dict[str, int]] = {}
    perfect = 0
    for pred, ref in zip(predictions, references):
        local: dict[str, dict[str, int]] = {}
        _score_proposition(conll05_arguments(ref), conll05_arguments(pred), local, excluded)
        perfect += not any(row["op"] or row["ms"] for row in local.values())
        for role, row in local.items():
            total = counts.setdefault(role, {"ok": 0, "op": 0, "ms": 0})
            for key, value in row.items():
                total[key] += value
    per_role = {}
    for role in sorted(counts):
        row = counts[role]
        precision, recall, f1 = _prf(row["ok"], row["op"], row["ms"])
        per_role[role] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": row["ok"] + row["ms"],
            "correct": row["ok"],
            "excess": row["op"],
            "missed": row["ms"],
        }
    totals = [sum(row[key] for row in counts.values()) for key in ("ok", "op", "ms")]
    precision, recall, f1 = _prf(*totals)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "perfect_propositions": perfect / len(references) if references else 0.0,
        "per_role": per_role,
    }
