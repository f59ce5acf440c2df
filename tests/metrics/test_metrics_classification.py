"""classification_metrics / multilabel_metrics / regression_metrics: hand-computed values and library parity."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, mean_squared_error

from transfuse.metrics import classification_metrics, flatten_metrics, multilabel_metrics, regression_metrics


def test_classification_hand_example(assert_plain_json) -> None:
    # class 0: tp=2 fn=1 -> P=1 R=2/3 F1=0.8; class 1: tp=1 fp=1 -> P=.5 R=1 F1=2/3; class 2: perfect.
    out = classification_metrics([0, 1, 1, 0, 2], [0, 1, 0, 0, 2], label_names=["neg", "pos", "neu"])
    assert out["accuracy"] == pytest.approx(0.8)
    assert out["f1_macro"] == pytest.approx((0.8 + 2 / 3 + 1.0) / 3)
    assert out["per_class"]["neg"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert out["per_class"]["pos"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert out["per_class"]["neu"] == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1})
    assert_plain_json(out)


def test_binary_mcc_by_hand() -> None:
    # tp=2 fp=1 fn=0 tn=1 -> (2*1 - 1*0) / sqrt(3*2*2*1)
    out = classification_metrics([1, 1, 1, 0], [1, 1, 0, 0])
    assert out["matthews_correlation"] == pytest.approx(2 / np.sqrt(12))
    assert sorted(out["per_class"]) == ["0", "1"]


def test_classification_matches_sklearn_and_accepts_logits(assert_plain_json) -> None:
    rng = np.random.default_rng(0)
    refs = rng.integers(0, 4, size=200)
    logits = rng.normal(size=(200, 4))
    preds = logits.argmax(-1)
    out = classification_metrics(logits, refs)
    assert out["accuracy"] == pytest.approx(accuracy_score(refs, preds))
    assert out["f1_macro"] == pytest.approx(f1_score(refs, preds, average="macro"))
    assert out["matthews_correlation"] == pytest.approx(matthews_corrcoef(refs, preds))
    assert out == classification_metrics(preds.tolist(), refs.tolist())
    assert_plain_json(out)


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
def test_label_names_cover_absent_classes_and_reject_unknown_ids() -> None:
    out = classification_metrics([0, 0], [0, 0], label_names=["a", "b"])
    assert out["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    with pytest.raises(ValueError, match="outside label_names"):
        classification_metrics([0, 2], [0, 1], label_names=["a", "b"])
    with pytest.raises(ValueError, match="same length"):
        classification_metrics([0, 1], [0])


def test_multilabel_hand_example_and_sklearn(assert_plain_json) -> None:
    preds = [[1, 0, 1], [0, 1, 0]]
    refs = [[1, 0, 0], [0, 1, 1]]
    # micro: tp=2 fp=1 fn=1 -> 2/3; macro: col F1s 1, 1, 0 -> 2/3; no row exactly right.
    out = multilabel_metrics(preds, refs, label_names=["x", "y", "z"])
    assert out["f1_micro"] == pytest.approx(2 / 3)
    assert out["f1_macro"] == pytest.approx(2 / 3)
    assert out["subset_accuracy"] == 0.0
    assert out["per_class"]["z"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert_plain_json(out)

    rng = np.random.default_rng(1)
    p, r = rng.integers(0, 2, size=(50, 5)), rng.integers(0, 2, size=(50, 5))
    out = multilabel_metrics(p, r)
    assert out["f1_micro"] == pytest.approx(f1_score(r, p, average="micro"))
    assert out["f1_macro"] == pytest.approx(f1_score(r, p, average="macro"))
    assert out["subset_accuracy"] == pytest.approx(accuracy_score(r, p))
    with pytest.raises(ValueError):
        multilabel_metrics(p, r, label_names=["only-one"])


def test_regression_hand_examples_and_scipy(assert_plain_json) -> None:
    out = regression_metrics([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert out == pytest.approx({"pearson": 1.0, "spearman": 1.0, "mse": 14 / 3})
    assert regression_metrics([1, 2, 3], [3, 2, 1])["spearman"] == pytest.approx(-1.0)
    assert_plain_json(out)

    rng = np.random.default_rng(2)
    refs = rng.normal(size=100)
    preds = refs + rng.normal(scale=0.5, size=100)
    out = regression_metrics(preds[:, None], refs)  # (n, 1) regression-head output is accepted
    assert out["pearson"] == pytest.approx(stats.pearsonr(preds, refs).statistic)
    assert out["spearman"] == pytest.approx(stats.spearmanr(preds, refs).statistic)
    assert out["mse"] == pytest.approx(mean_squared_error(refs, preds))
    assert_plain_json(out)


def test_flatten_metrics() -> None:
    out = classification_metrics([0, 1], [0, 1], label_names=["neg", "pos"])
    flat = flatten_metrics(out)
    assert flat["accuracy"] == 1.0 and flat["per_class_pos_f1"] == 1.0 and flat["per_class_neg_support"] == 1
    assert all(not isinstance(v, dict) for v in flat.values())


def test_importing_the_classification_task_leaves_scikit_learn_unloaded() -> None:
    """`predict` scores nothing, so the metrics import scikit-learn and scipy.stats when called (0.6 s of
    every command's start-up otherwise)."""
    probe = (
        "import sys, transfuse.tasks.classification; "
        "print([m for m in ('sklearn', 'scipy.stats') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
