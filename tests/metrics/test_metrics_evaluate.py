"""The evaluate.Metric wrappers and load_metric: offline construction, parity, combine, add_batch."""

from __future__ import annotations

from pathlib import Path

import evaluate
import pytest

from transfuse.metrics import (
    ClassificationMetric,
    MultilabelMetric,
    RegressionMetric,
    SquadMetric,
    SrlMetric,
    TranslationMetric,
    available_metrics,
    classification_metrics,
    load_metric,
    multilabel_metrics,
    regression_metrics,
    squad_metrics,
    srl_metrics,
    translation_metrics,
)

pytestmark = pytest.mark.usefixtures("offline")

CASES = [
    (ClassificationMetric, classification_metrics, [0, 1, 2, 1], [0, 1, 1, 1]),
    (MultilabelMetric, multilabel_metrics, [[1, 0], [1, 1]], [[1, 0], [0, 1]]),
    (RegressionMetric, regression_metrics, [0.5, 2.0, 2.5], [1.0, 2.0, 3.0]),
    (SquadMetric, squad_metrics, ["the cat", "dog"], [["cat"], ["a dog", "dogs"]]),
    (
        TranslationMetric,
        translation_metrics,
        ["the cat sat", "hello world"],
        [["the cat sat"], ["hello there"]],
    ),
    (SrlMetric, srl_metrics, [["B-A0", "B-V", "O"]], [["B-A0", "B-V", "B-A1"]]),
]


@pytest.mark.parametrize(("cls", "fn", "preds", "refs"), CASES, ids=[c[0].__name__ for c in CASES])
def test_wrapper_equals_plain_function(cls, fn, preds, refs, tmp_path: Path, assert_plain_json) -> None:
    metric = cls(cache_dir=str(tmp_path))
    assert isinstance(metric, evaluate.Metric) and metric.keep_in_memory
    assert metric.info.description and metric.info.citation and metric.info.features
    out = metric.compute(predictions=preds, references=refs)
    assert out == fn(preds, refs)
    assert_plain_json(out)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # in-memory: no Arrow cache files left


def test_combine_offline(tmp_path: Path, assert_plain_json) -> None:
    combined = evaluate.combine(
        [load_metric(name, cache_dir=str(tmp_path)) for name in ("accuracy", "f1", "matthews_correlation")]
    )
    out = combined.compute(predictions=[1, 1, 1, 0], references=[1, 1, 0, 0])
    assert out == pytest.approx(
        {"accuracy": 0.75, "f1_macro": (0.8 + 2 / 3) / 2, "matthews_correlation": 12**-0.5 * 2}
    )
    assert_plain_json(out)

    # modules with overlapping keys are prefixed by evaluate with their module names
    both = evaluate.combine([SquadMetric(cache_dir=str(tmp_path)), SrlMetric(cache_dir=str(tmp_path))])
    assert both.evaluation_module_names == ["squad_metric", "srl_metric"]


def test_add_batch_streaming_and_compute_kwargs(tmp_path: Path) -> None:
    metric = ClassificationMetric(cache_dir=str(tmp_path))
    metric.add_batch(predictions=[0, 1], references=[0, 1])
    metric.add_batch(predictions=[1], references=[0])
    metric.add(prediction=0, reference=0)
    out = metric.compute(label_names=["neg", "pos"])
    assert out == classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], label_names=["neg", "pos"])

    srl = SrlMetric(cache_dir=str(tmp_path))
    tags = {"predictions": [["B-A0", "B-V"]], "references": [["B-A0", "B-V"]]}
    assert set(srl.compute(**tags)["per_role"]) == {"A0"}
    assert set(srl.compute(**tags, exclude_labels=[])["per_role"]) == {"A0", "V"}
    assert set(load_metric("seqeval", cache_dir=str(tmp_path)).compute(**tags)["per_role"]) == {"A0", "V"}

    bleu = load_metric("sacrebleu", cache_dir=str(tmp_path))
    out = bleu.compute(predictions=["The Cat sat on the mat"], references=["the cat sat on the mat"], lowercase=True)
    assert out["bleu"] == pytest.approx(100.0) and "chrf" not in out


def test_squad_wrapper_accepts_hf_records_and_single_strings(tmp_path: Path) -> None:
    metric = SquadMetric(cache_dir=str(tmp_path))
    preds = [{"id": "1", "prediction_text": "the Broncos"}, {"id": "2", "prediction_text": "1990"}]
    refs = [
        {"id": "1", "answers": {"text": ["Denver Broncos", "Broncos"], "answer_start": [0, 7]}},
        {"id": "2", "answers": {"text": ["1989"], "answer_start": [3]}},
    ]
    assert metric.compute(predictions=preds, references=refs) == {"exact_match": 50.0, "f1": 50.0}
    assert metric.compute(predictions=["The cat"], references=["cat"]) == {"exact_match": 100.0, "f1": 100.0}


def test_load_metric_names(tmp_path: Path) -> None:
    for name in available_metrics():
        assert isinstance(load_metric(name, cache_dir=str(tmp_path)), evaluate.Metric)
    assert load_metric("Matthews-Correlation", cache_dir=str(tmp_path)).config_name == "matthews_correlation"
    out = load_metric("chrf", cache_dir=str(tmp_path)).compute(predictions=["abc"], references=[["abc"]])
    assert out == {"chrf": pytest.approx(100.0)}
    with pytest.raises(ValueError, match="allowed names: accuracy, bleu") as info:
        load_metric("rouge")
    assert all(name in str(info.value) for name in ("squad", "seqeval", "sacrebleu", "matthews_correlation"))


def test_config_validation_and_distributed_default(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown config_name"):
        ClassificationMetric(config_name="bleu", cache_dir=str(tmp_path))
    distributed = ClassificationMetric(cache_dir=str(tmp_path), num_process=2, process_id=0, experiment_id="t")
    assert not distributed.keep_in_memory
