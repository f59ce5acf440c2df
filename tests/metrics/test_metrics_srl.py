"""srl_metrics: span precision/recall/F1 by hand with V excluded, seqeval parity, options."""

from __future__ import annotations

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from transfuse.metrics import srl_metrics

REFS = [
    ["B-A0", "I-A0", "B-V", "B-A1", "I-A1", "O", "B-AM-TMP"],
    ["B-V", "O", "B-A1"],
]
PREDS = [
    ["B-A0", "I-A0", "B-V", "B-A1", "O", "O", "B-AM-LOC"],
    ["B-V", "B-A0", "B-A1"],
]


def test_hand_example_excludes_v(assert_plain_json) -> None:
    # Without V: gold spans A0, A1(3-4), AM-TMP, A1 = 4; predicted A0, A1(3-3), AM-LOC, A0, A1 = 5;
    # correct: A0 in sentence 1 and A1 in sentence 2 = 2.  P = 2/5, R = 2/4.
    out = srl_metrics(PREDS, REFS)
    assert out["precision"] == pytest.approx(0.4)
    assert out["recall"] == pytest.approx(0.5)
    assert out["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert "V" not in out["per_role"]
    assert out["per_role"]["A0"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert out["per_role"]["A1"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert out["per_role"]["AM-TMP"]["support"] == 1 and out["per_role"]["AM-LOC"]["support"] == 0
    assert_plain_json(out)


def test_including_v_matches_plain_seqeval() -> None:
    # Both V spans are right: 4 correct of 7 predicted and 6 gold.
    out = srl_metrics(PREDS, REFS, exclude_labels=())
    assert out["precision"] == pytest.approx(4 / 7) and out["recall"] == pytest.approx(4 / 6)
    assert out["precision"] == pytest.approx(precision_score(REFS, PREDS))
    assert out["recall"] == pytest.approx(recall_score(REFS, PREDS))
    assert out["f1"] == pytest.approx(f1_score(REFS, PREDS))
    assert out["per_role"]["V"]["f1"] == 1.0


def test_excluding_v_equals_seqeval_on_stripped_tags() -> None:
    def strip(seqs: list[list[str]]) -> list[list[str]]:
        return [["O" if tag.endswith("-V") else tag for tag in seq] for seq in seqs]

    assert srl_metrics(PREDS, REFS)["f1"] == pytest.approx(f1_score(strip(REFS), strip(PREDS)))


def test_more_exclusions_continuation_roles_and_strict_mode() -> None:
    out = srl_metrics(PREDS, REFS, exclude_labels=("V", "AM-TMP", "AM-LOC"))
    assert (out["precision"], out["recall"]) == pytest.approx((2 / 4, 2 / 3))
    # C-A1 is a role of its own, not A1
    cont = srl_metrics([["B-A1", "B-V", "B-A1"]], [["B-A1", "B-V", "B-C-A1"]])
    assert cont["precision"] == pytest.approx(0.5) and cont["per_role"]["C-A1"]["recall"] == 0.0
    # an I- tag after O opens a span in conlleval-style decoding but not in strict IOB2
    lenient = srl_metrics([["O", "I-A0", "B-V"]], [["O", "B-A0", "B-V"]])
    strict = srl_metrics([["O", "I-A0", "B-V"]], [["O", "B-A0", "B-V"]], strict=True)
    assert lenient["f1"] == 1.0 and strict["f1"] == 0.0


def test_degenerate_and_invalid_inputs() -> None:
    out = srl_metrics([["B-V", "O"]], [["B-V", "O"]])  # only the predicate: nothing to score
    assert out == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_role": {}}
    with pytest.raises(ValueError, match="same length"):
        srl_metrics([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="example 0"):
        srl_metrics([["O", "O"]], [["O"]])


# ---- conll05_metrics: the srl-eval.pl conventions, worked by hand ----------------------------------------


def test_conll05_arguments_join_continuations() -> None:
    from transfuse.metrics.srl import conll05_arguments

    # [A1 The man] [V said] [C-A1 he left]: one discontinuous A1 spanning 0-4 with two pieces
    tags = ["B-A1", "I-A1", "B-V", "B-C-A1", "I-C-A1"]
    assert conll05_arguments(tags) == [("A1", 0, 4, ((0, 1), (3, 4))), ("V", 2, 2, ((2, 2),))]
    # a C-X with no X before it becomes a plain X; R-X stays its own type
    assert conll05_arguments(["B-C-A0", "B-R-A0", "B-V"]) == [
        ("A0", 0, 0, ((0, 0),)),
        ("R-A0", 1, 1, ((1, 1),)),
        ("V", 2, 2, ((2, 2),)),
    ]
    # a continuation joins the latest argument of its type
    assert conll05_arguments(["B-A1", "B-V", "B-A1", "B-C-A1"])[2] == ("A1", 2, 3, ((2, 2), (3, 3)))


def test_conll05_discontinuous_argument_is_one_unit() -> None:
    from transfuse.metrics import conll05_metrics

    gold = [["B-A1", "I-A1", "B-V", "B-C-A1", "I-C-A1"]]
    # all pieces right: 1 correct argument (not 2), V not counted
    right = conll05_metrics(gold, gold)
    assert right["per_role"] == {
        "A1": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1, "correct": 1, "excess": 0, "missed": 0}
    }
    assert right["perfect_propositions"] == 1.0
    # the continuation piece missed: the predicted A1 (0-1) is an excess, the gold A1 (0-4) a miss -> 0/1, 0/1
    one_piece = conll05_metrics([["B-A1", "I-A1", "B-V", "O", "O"]], gold)
    assert (one_piece["precision"], one_piece["recall"], one_piece["f1"]) == (0.0, 0.0, 0.0)
    assert one_piece["per_role"]["A1"]["excess"] == 1 and one_piece["per_role"]["A1"]["missed"] == 1
    # the same extent as one continuous span is not the discontinuous argument either
    merged = conll05_metrics([["B-A1", "I-A1", "I-A1", "I-A1", "I-A1"]], gold)
    assert merged["f1"] == 0.0
    # seqeval-style scoring (C- as its own type) gives half credit for the same prediction
    assert srl_metrics([["B-A1", "I-A1", "B-V", "O", "O"]], gold)["recall"] == pytest.approx(0.5)


def test_conll05_reference_roles_and_wrong_type() -> None:
    from transfuse.metrics import conll05_metrics

    gold = [["B-A0", "B-R-A0", "B-V", "B-A1"], ["B-V", "B-AM-TMP", "I-AM-TMP", "O"]]
    pred = [["B-A0", "B-A0", "B-V", "B-A1"], ["B-V", "B-AM-LOC", "I-AM-LOC", "O"]]
    # sentence 1: A0 ok, R-A0 missed and an A0 excess at 1, A1 ok; sentence 2: AM-LOC excess, AM-TMP missed
    out = conll05_metrics(pred, gold)
    assert (out["precision"], out["recall"]) == pytest.approx((2 / 4, 2 / 4))
    assert out["per_role"]["R-A0"]["missed"] == 1 and out["per_role"]["R-A0"]["support"] == 1
    assert out["per_role"]["A0"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1, "correct": 1, "excess": 1, "missed": 0}
    )
    assert out["per_role"]["AM-LOC"]["support"] == 0 and out["per_role"]["AM-TMP"]["recall"] == 0.0
    assert out["perfect_propositions"] == 0.0
    # the predicate span is never scored, even when wrong
    assert conll05_metrics([["B-A0", "O", "B-V"]], [["B-A0", "B-V", "O"]])["f1"] == 1.0


def test_conll05_agrees_with_seqeval_without_continuations() -> None:
    from transfuse.metrics import conll05_metrics

    out, reference = conll05_metrics(PREDS, REFS), srl_metrics(PREDS, REFS)
    for key in ("precision", "recall", "f1"):
        assert out[key] == pytest.approx(reference[key])
    assert conll05_metrics([["B-V"]], [["B-V"]])["f1"] == 0.0
    with pytest.raises(ValueError, match="example 0"):
        conll05_metrics([["O", "O"]], [["O"]])
