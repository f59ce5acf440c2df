"""``evaluate.Metric`` front-ends over the plain metric functions, usable fully offline.

``evaluate.load("accuracy")`` fetches a metric script from the Hugging Face Hub, which fails without
internet. The classes here are ordinary ``evaluate.Metric`` subclasses defined in this package, so
instantiating them never downloads anything (``evaluate.Metric.__init__`` only builds a local cache
directory; ``download_and_prepare`` is a no-op that is never called). They support everything an
``evaluate`` user expects -- ``add``/``add_batch``/``compute`` and ``evaluate.combine([...])`` -- and each
``_compute`` delegates to the numpy/list function in the task's module, so both paths give identical
numbers. Pass *instances* to ``evaluate.combine``: a string there goes through ``evaluate.load`` and the Hub.

The ``config_name`` of a metric selects which keys it returns (``"default"`` = all of them), which is how
:func:`load_metric` maps familiar ``evaluate`` names onto these modules, e.g. ``load_metric("accuracy")`` is
``ClassificationMetric(config_name="accuracy")`` and returns only ``{"accuracy": ...}``.

Unlike ``evaluate``'s default, predictions are kept in memory (``keep_in_memory=True``) unless
``num_process > 1``, so single-process use writes no Arrow cache files and takes no file locks.

Importing this module imports ``evaluate``, which imports ``transformers`` and ``torch`` (several seconds);
``transfuse.metrics`` therefore imports it lazily, only when one of these names is first used.
"""

from __future__ import annotations

from typing import Any, ClassVar

import datasets
import evaluate

from .classification import classification_metrics, multilabel_metrics, regression_metrics
from .qa import squad_metrics
from .srl import srl_metrics
from .translation import translation_metrics

__all__ = [
    "ClassificationMetric",
    "MultilabelMetric",
    "RegressionMetric",
    "SquadMetric",
    "SrlMetric",
    "TranslationMetric",
    "available_metrics",
    "load_metric",
]

_STRING = datasets.Value("string")


class _OfflineMetric(evaluate.Metric):
    """Shared behaviour: validate ``config_name``, keep data in memory by default, describe the metric from the
    class attributes, and compute with the plain function, keeping the keys the config names."""

    #: config name -> keys returned by ``compute`` (``None``: every key of the underlying function).
    CONFIG_KEYS: ClassVar[dict[str, tuple[str, ...] | None]] = {"default": None}
    #: ``MetricInfo`` fields: description, citation, inputs_description, features, links (urls, homepage).
    INFO: ClassVar[dict[str, Any]]

    def __init__(self, config_name: str | None = None, keep_in_memory: bool | None = None, **kwargs: Any):
        config_name = config_name or "default"
        if config_name not in self.CONFIG_KEYS:
            raise ValueError(
                f"{type(self).__name__}: unknown config_name {config_name!r}; choose from {sorted(self.CONFIG_KEYS)}"
            )
        if keep_in_memory is None:
            keep_in_memory = kwargs.get("num_process", 1) == 1
        super().__init__(config_name=config_name, keep_in_memory=keep_in_memory, **kwargs)

    @staticmethod
    def function(predictions: Any, references: Any, **kwargs: Any) -> dict[str, Any]:
        """The plain metric function (a `staticmethod`; a method where the config changes its arguments)."""
        raise NotImplementedError

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(**self.INFO)

    def _compute(self, predictions: Any, references: Any, **kwargs: Any) -> dict[str, Any]:
        result = self.function(predictions, references, **kwargs)
        keys = self.CONFIG_KEYS[self.config_name]
        return result if keys is None else {key: result[key] for key in keys}


def _configs(**one_key: str) -> dict[str, tuple[str, ...] | None]:
    """`CONFIG_KEYS` of a metric whose configs each keep one key (`f1` -> `f1_macro`), besides `default`."""
    return {"default": None, **{name: (key,) for name, key in one_key.items()}}


_SCIKIT_LEARN = "Pedregosa et al., Scikit-learn: Machine Learning in Python, JMLR 12, 2011."
_SCIKIT_LEARN_URL = "https://scikit-learn.org/stable/modules/model_evaluation.html"


class ClassificationMetric(_OfflineMetric):
    """Accuracy, macro-F1, Matthews correlation and per-class report (:func:`classification_metrics`)."""

    function = staticmethod(classification_metrics)
    CONFIG_KEYS = _configs(accuracy="accuracy", f1="f1_macro", matthews_correlation="matthews_correlation")
    INFO: ClassVar[dict[str, Any]] = dict(
        description="Single-label classification: accuracy, macro-F1, Matthews correlation and a per-class "
        "precision/recall/F1/support report, computed with scikit-learn.",
        citation=_SCIKIT_LEARN,
        inputs_description="""
Args:
    predictions (list of int): predicted label ids.
    references (list of int): gold label ids.
    label_names (list of str, optional): names of ids 0..n-1 for the per-class report.
Returns: accuracy, f1_macro, matthews_correlation, per_class (config 'default'), or the one key the
    config names ('accuracy', 'f1' -> f1_macro, 'matthews_correlation').
""",
        features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        reference_urls=[_SCIKIT_LEARN_URL],
    )


class MultilabelMetric(_OfflineMetric):
    """Micro/macro F1, subset accuracy and per-label report over 0/1 rows (:func:`multilabel_metrics`)."""

    function = staticmethod(multilabel_metrics)
    INFO: ClassVar[dict[str, Any]] = dict(
        description="Multi-label classification over 0/1 indicator rows: micro-F1, macro-F1, subset accuracy and "
        "a per-label report, computed with scikit-learn.",
        citation=_SCIKIT_LEARN,
        inputs_description="""
Args:
    predictions (list of list of int): 0/1 indicator row per example.
    references (list of list of int): 0/1 indicator row per example.
    label_names (list of str, optional): names of the label columns.
Returns: f1_micro, f1_macro, subset_accuracy, per_class.
""",
        features=datasets.Features(
            {
                "predictions": datasets.Sequence(datasets.Value("int32")),
                "references": datasets.Sequence(datasets.Value("int32")),
            }
        ),
        reference_urls=[f"{_SCIKIT_LEARN_URL}#multilabel-ranking-metrics"],
    )


class RegressionMetric(_OfflineMetric):
    """Pearson, Spearman and MSE for real-valued targets (:func:`regression_metrics`)."""

    function = staticmethod(regression_metrics)
    CONFIG_KEYS = _configs(pearson="pearson", spearman="spearman", mse="mse")
    INFO: ClassVar[dict[str, Any]] = dict(
        description="Regression: Pearson and Spearman correlation (scipy) and mean squared error.",
        citation="Virtanen et al., SciPy 1.0: Fundamental Algorithms for Scientific Computing in Python, "
        "Nature Methods 17, 2020.",
        inputs_description="""
Args:
    predictions (list of float): predicted values.
    references (list of float): gold values.
Returns: pearson, spearman, mse (config 'default'), or the one key the config names.
""",
        features=datasets.Features(
            {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
        ),
    )


# one text, or several, per example
_TEXT_FEATURES = [
    datasets.Features({"predictions": _STRING, "references": _STRING}),
    datasets.Features({"predictions": _STRING, "references": datasets.Sequence(_STRING)}),
]


class SquadMetric(_OfflineMetric):
    """Official SQuAD v1.1 exact match and F1, 0-100 (:func:`squad_metrics`).

    Takes either plain inputs (``predictions: [str]``, ``references: [[str, ...]]``) or the Hugging Face
    squad records that ``evaluate.load("squad")`` takes (``{"id", "prediction_text"}`` /
    ``{"id", "answers": {"text", "answer_start"}}``).
    """

    function = staticmethod(squad_metrics)
    INFO: ClassVar[dict[str, Any]] = dict(
        description="SQuAD v1.1: exact match and token F1 after the official answer normalisation "
        "(lower-case, no punctuation, no articles, single spaces), max over reference answers.",
        citation="""@inproceedings{rajpurkar-etal-2016-squad,
    title = "{SQ}u{AD}: 100,000+ Questions for Machine Comprehension of Text",
    author = "Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy",
    booktitle = "Proceedings of EMNLP 2016",
    year = "2016",
    pages = "2383--2392",
}""",
        inputs_description="""
Args:
    predictions (list of str, or list of {"id", "prediction_text"}): one answer per question.
    references (list of str, list of list of str,
    or list of {"id", "answers": {"text": [...], "answer_start": [...]}}).
Returns: exact_match, f1 (0-100).
""",
        features=[
            *_TEXT_FEATURES,
            datasets.Features(
                {
                    "predictions": {"id": _STRING, "prediction_text": _STRING},
                    "references": {
                        "id": _STRING,
                        "answers": datasets.Sequence({"text": _STRING, "answer_start": datasets.Value("int32")}),
                    },
                }
            ),
        ],
        homepage="https://rajpurkar.github.io/SQuAD-explorer/",
    )


class TranslationMetric(_OfflineMetric):
    """Corpus sacreBLEU and chrF with one or several references per prediction (:func:`translation_metrics`).

    ``tokenize``, ``lowercase`` and ``chrf_word_order`` at ``compute`` time go to sacrebleu."""

    function = staticmethod(translation_metrics)
    CONFIG_KEYS: ClassVar[dict[str, tuple[str, ...] | None]] = {
        "default": None,
        "bleu": ("bleu", "brevity_penalty", "length_ratio", "precisions", "counts", "totals", "sys_len", "ref_len"),
        "chrf": ("chrf",),
    }
    INFO: ClassVar[dict[str, Any]] = dict(
        description="Corpus BLEU and chrF computed by sacrebleu (0-100), plus BLEU's brevity penalty, n-gram "
        "precisions and lengths.",
        citation="""@inproceedings{post-2018-call,
    title = "A Call for Clarity in Reporting {BLEU} Scores",
    author = "Post, Matt",
    booktitle = "Proceedings of the Third Conference on Machine Translation: Research Papers",
    year = "2018",
    pages = "186--191",
}""",
        inputs_description="""
Args:
    predictions (list of str): one hypothesis per example.
    references (list of str, or list of list of str): the reference(s) of each example.
    tokenize (str, optional), lowercase (bool), chrf_word_order (int): passed to sacrebleu.
Returns: bleu, chrf, brevity_penalty, length_ratio, precisions, counts, totals, sys_len, ref_len
    (config 'default'); config 'bleu' drops chrf, config 'chrf' keeps only chrf.
""",
        features=_TEXT_FEATURES,
        codebase_urls=["https://github.com/mjpost/sacrebleu"],
    )


class SrlMetric(_OfflineMetric):
    """Span precision/recall/F1 and per-role report from BIO tags via seqeval (:func:`srl_metrics`).

    Config ``"default"`` excludes the predicate ``V`` span (CoNLL-2005); config ``"seqeval"`` excludes
    nothing (generic span F1, e.g. NER). ``exclude_labels=`` at ``compute`` time overrides either.
    """

    CONFIG_KEYS: ClassVar[dict[str, tuple[str, ...] | None]] = {"default": None, "seqeval": None}
    INFO: ClassVar[dict[str, Any]] = dict(
        description="Semantic role labelling: span-level micro precision/recall/F1 and per-role scores from BIO "
        "tag sequences, computed by seqeval; the predicate span V is excluded by default.",
        citation="""@inproceedings{carreras-marquez-2005-introduction,
    title = "Introduction to the {C}o{NLL}-2005 Shared Task: Semantic Role Labeling",
    author = "Carreras, Xavier and M{\\`a}rquez, Llu{\\'\\i}s",
    booktitle = "Proceedings of CoNLL-2005",
    year = "2005",
    pages = "152--164",
}""",
        inputs_description="""
Args:
    predictions (list of list of str): BIO tags per (sentence, predicate).
    references (list of list of str): gold BIO tags.
    exclude_labels (list of str, optional): span types to ignore (default ['V'], [] for config 'seqeval').
    strict (bool): seqeval strict IOB2 span decoding.
Returns: precision, recall, f1, per_role.
""",
        features=datasets.Features(
            {"predictions": datasets.Sequence(_STRING), "references": datasets.Sequence(_STRING)}
        ),
        codebase_urls=["https://github.com/chakki-works/seqeval"],
    )

    def function(self, predictions: Any, references: Any, exclude_labels: Any = None, strict: bool = False):
        if exclude_labels is None:
            exclude_labels = () if self.config_name == "seqeval" else ("V",)
        return srl_metrics(predictions, references, exclude_labels=exclude_labels, strict=strict)


#: ``load_metric`` name -> (metric class, config name)
_REGISTRY: dict[str, tuple[type[_OfflineMetric], str]] = {
    "accuracy": (ClassificationMetric, "accuracy"),
    "f1": (ClassificationMetric, "f1"),
    "matthews_correlation": (ClassificationMetric, "matthews_correlation"),
    "classification": (ClassificationMetric, "default"),
    "multilabel": (MultilabelMetric, "default"),
    "pearson": (RegressionMetric, "pearson"),
    "pearsonr": (RegressionMetric, "pearson"),
    "spearman": (RegressionMetric, "spearman"),
    "spearmanr": (RegressionMetric, "spearman"),
    "mse": (RegressionMetric, "mse"),
    "regression": (RegressionMetric, "default"),
    "squad": (SquadMetric, "default"),
    "bleu": (TranslationMetric, "bleu"),
    "sacrebleu": (TranslationMetric, "bleu"),
    "chrf": (TranslationMetric, "chrf"),
    "translation": (TranslationMetric, "default"),
    "seqeval": (SrlMetric, "seqeval"),
    "srl": (SrlMetric, "default"),
}


def available_metrics() -> list[str]:
    """Names accepted by :func:`load_metric`."""
    return sorted(_REGISTRY)


def load_metric(name: str, **kwargs: Any) -> evaluate.Metric:
    """Offline stand-in for ``evaluate.load(name)``: an instance of one of the metric classes above.

    ``kwargs`` go to the ``evaluate.Metric`` constructor (``cache_dir``, ``experiment_id``, ``num_process``,
    ...), not ``config_name``, which the name fixes. Output keys are this package's (e.g. ``"f1"`` gives
    ``{"f1_macro": ...}``, ``"bleu"`` gives sacrebleu's 0-100 ``"bleu"``), not always the Hub metric's.

    Raises:
        ValueError: for names without an offline implementation; the message lists the allowed names.
    """
    key = name.strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"no offline metric named {name!r}; allowed names: {', '.join(available_metrics())}")
    cls, config_name = _REGISTRY[key]
    return cls(config_name=config_name, **kwargs)
