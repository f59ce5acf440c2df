"""Extractive question answering (`transfuse train|evaluate|predict qa`): point at the answer in the context.

The model (any `AutoModelForQuestionAnswering`: a transfuse encoder, a BERT such as MiniLM) scores every token
as the start and the end of the answer. The task reads SQuAD data (`data.py`), cuts question + context into
overlapping windows (`features.py`), and turns the logits of all windows of a question back into one answer,
an exact character span of its context (`postprocessing.py`), scored with the official SQuAD metrics.

SQuAD v2.0 (`--version_2_with_negative`): a question may have no answer. The null answer competes with the best
span, and the threshold on their score difference is tuned on the validation set at every evaluation during
training (the value that maximises F1, `best_f1_threshold` in the metrics). The tuned value goes into the model
config (`qa_null_score_diff_threshold`), so `transfuse evaluate`, `transfuse predict` and the
`question-answering` pipeline decide with it later; `--null_score_diff_threshold` overrides it.

What post-processing needs later (version, stride, answer length, threshold) is stored in the config under
`qa_*` keys, so a run folder answers the same way in `predict` and in `pipeline()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import AutoModelForQuestionAnswering, PretrainedConfig, PreTrainedTokenizerBase

from ...data.collators import PAD_TO_MULTIPLE_OF
from ...metrics.qa import squad_metrics, squad_v2_metrics
from ..base import Split, Task
from .data import (
    SquadColumns,
    answers_of,
    fix_answer_starts,
    ids_of,
)
from .features import (
    EXAMPLE_INDEX,
    NULL_INDEX,
    OFFSETS,
    WindowReport,
    check_fast_tokenizer,
    default_doc_stride,
    prepare_features,
)
from .postprocessing import DEFAULT_MAX_ANSWER_LENGTH, DEFAULT_N_BEST_SIZE, decide, postprocess_predictions
from .task_data import SquadTaskData

logger = logging.getLogger(__name__)

# model-config keys (what post-processing needs to answer the same way after training)
CONFIG_KEYS = {
    "version_2_with_negative": "qa_version_2_with_negative",
    "null_score_diff_threshold": "qa_null_score_diff_threshold",
    "doc_stride": "qa_doc_stride",
    "max_seq_length": "qa_max_seq_length",
    "max_answer_length": "qa_max_answer_length",
}
PIPELINE_TAG = "question-answering"


@dataclass
class QuestionAnsweringArguments(SquadColumns):
    """SQuAD columns and versions (`SquadColumns`), windows, and how answers are picked."""

    doc_stride: int | None = field(
        default=None,
        metadata={
            "help": "Context tokens shared by consecutive windows of a long context (default: a third of "
            "--max_seq_length, 128 at 384)."
        },
    )
    n_best_size: int | None = field(
        default=None,
        metadata={
            "help": f"Write the N best answers of each question (`n_best` in predict's output); the search "
            f"always looks at the {DEFAULT_N_BEST_SIZE} best starts and ends of each window (or N if larger)."
        },
    )
    max_answer_length: int = field(default=DEFAULT_MAX_ANSWER_LENGTH, metadata={"help": "Longest answer, in tokens."})
    null_score_diff_threshold: float | None = field(
        default=None,
        metadata={
            "help": "SQuAD v2: answer 'no answer' when the null score beats the best span's by more than "
            "this. Default: tuned on the validation set during training (stored in the model config), "
            "0.0 before that."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for flag in ("doc_stride", "n_best_size", "max_answer_length"):
            value = getattr(self, flag)
            if value is not None and value <= 0:
                raise ValueError(f"--{flag} {value} must be a positive integer.")


class QuestionAnsweringTask(SquadTaskData, Task):
    """Extractive QA over SQuAD v1.1 / v2.0 data with any `AutoModelForQuestionAnswering`."""

    name = "qa"
    pipeline_tag = PIPELINE_TAG
    arguments_class = QuestionAnsweringArguments
    auto_model_class = AutoModelForQuestionAnswering
    architectures = ("encoder",)
    main_metric = "f1"

    def __init__(self, args: QuestionAnsweringArguments, max_seq_length: int = 384, num_proc: int | None = None):
        super().__init__(args, max_seq_length, num_proc)
        self.version_2_with_negative = args.version_2_with_negative
        self.doc_stride = args.doc_stride or default_doc_stride(max_seq_length)
        self.max_answer_length = args.max_answer_length
        self.null_threshold: float | None = args.null_score_diff_threshold
        self.tune_threshold = False  # set by fit(): only a training run tunes the threshold it will be saved with
        self._answers: list[dict[str, Any]] = []  # the last postprocess results, with what the threshold needs
        self.window_reports: dict[str, WindowReport] = {}
        self.moved_answer_starts = 0

    # ---- arguments -------------------------------------------------------------------------------------

    @classmethod
    def check_arguments(cls, args: Any, command: str) -> None:
        stride, length = args.task.doc_stride, args.data.max_seq_length
        if stride is not None and stride >= length:
            raise ValueError(
                f"--doc_stride {stride} must be smaller than --max_seq_length {length} (the stride is the overlap "
                "of two windows); e.g. --max_seq_length 384 --doc_stride 128."
            )

    # ---- model shape -----------------------------------------------------------------------------------

    def fit(self, train_examples: Dataset) -> None:
        self.tune_threshold = self.version_2_with_negative and self.args.null_score_diff_threshold is None

    def load_from_config(self, config: PretrainedConfig) -> None:
        stored = {name: getattr(config, key, None) for name, key in CONFIG_KEYS.items()}
        self.version_2_with_negative = bool(self.args.version_2_with_negative or stored["version_2_with_negative"])
        if self.null_threshold is None:
            self.null_threshold = stored["null_score_diff_threshold"]
        if self.args.doc_stride is None and stored["doc_stride"]:
            self.doc_stride = int(stored["doc_stride"])
        if self.doc_stride >= self.max_seq_length:  # the model's stride does not fit this --max_seq_length
            self.doc_stride = default_doc_stride(self.max_seq_length)

    def config_updates(self) -> dict[str, Any]:
        return {
            CONFIG_KEYS["version_2_with_negative"]: self.version_2_with_negative,
            CONFIG_KEYS["null_score_diff_threshold"]: self.null_threshold,
            CONFIG_KEYS["doc_stride"]: self.doc_stride,
            CONFIG_KEYS["max_seq_length"]: self.max_seq_length,
            CONFIG_KEYS["max_answer_length"]: self.max_answer_length,
            "custom_pipelines": pipeline_entry(),
        }

    def attach(self, tokenizer: PreTrainedTokenizerBase, config: PretrainedConfig) -> None:
        super().attach(tokenizer, config)
        # `AutoConfig.from_pretrained(path, **config_updates())` keeps only keys the config class knows, so a
        # Hub model's config (MiniLM's BertConfig) would lose the qa_* keys and the pipeline entry: set them here
        config.update(self.config_updates())

    @property
    def threshold(self) -> float:
        """The null threshold decisions use now: the flag, else the model's, else 0."""
        return 0.0 if self.null_threshold is None else float(self.null_threshold)

    # ---- features --------------------------------------------------------------------------------------

    def preprocess(self, examples: Dataset, tokenizer: PreTrainedTokenizerBase, split: Split) -> Dataset:
        check_fast_tokenizer(tokenizer)
        train = split == "train"
        args = self.args

        def windows(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
            answers = None
            if train:
                answers = answers_of(batch, args)
                if args.fix_answer_starts:
                    answers = [fix_answer_starts(c, a)[0] for c, a in zip(batch[args.context_column], answers)]
            return prepare_features(
                tokenizer,
                batch[args.question_column],
                batch[args.context_column],
                indices,
                self.max_seq_length,
                self.doc_stride,
                answers=answers,
                ids=ids_of(batch, args, offset=indices[0] if indices else 0),
            )

        features = self.map(examples, windows, split, with_indices=True)
        report = WindowReport(examples=len(examples), windows=len(features))
        if train:
            answerable = {i for i, a in enumerate(answers_of(examples, args)) if a and a["text"]}
            kept = set(features[EXAMPLE_INDEX])
            ids = ids_of(examples, args)
            report.answers_outside = [ids[i] for i in sorted(answerable - kept)]
            if report.answers_outside:
                logger.warning(report.summary(split))
        self.window_reports[split] = report
        logger.info(report.summary(split))
        return features

    def data_collator(self, tokenizer: PreTrainedTokenizerBase, model: Any = None) -> Callable:
        return RightPaddingCollator(tokenizer)

    # ---- outputs and metrics ---------------------------------------------------------------------------

    def postprocess(self, predictions: Any, features: Dataset, examples: Dataset) -> list[dict[str, Any]]:
        start_logits, end_logits = predictions[0], predictions[1]
        n_best = self.args.n_best_size
        answers = postprocess_predictions(
            start_logits,
            end_logits,
            features[EXAMPLE_INDEX],
            features[OFFSETS],
            features[NULL_INDEX],
            examples[self.args.context_column],
            version_2_with_negative=self.version_2_with_negative,
            null_threshold=self.threshold,
            n_best_size=max(DEFAULT_N_BEST_SIZE, n_best or 0),
            max_answer_length=self.max_answer_length,
        )
        self._answers = answers
        return [self._output(qid, answer) for qid, answer in zip(ids_of(examples, self.args), answers)]

    def _output(self, qid: str, answer: dict[str, Any]) -> dict[str, Any]:
        output = {"id": qid, **{key: answer[key] for key in ("answer", "start", "score", "is_impossible")}}
        if self.version_2_with_negative:
            output["null_score_diff"] = answer["null_score_diff"]
        if self.args.n_best_size:
            output["n_best"] = answer["n_best"][: self.args.n_best_size]
        return output

    def compute_metrics(self, outputs: list[dict[str, Any]], examples: Dataset) -> dict[str, Any]:
        references = [answers["text"] if answers else [] for answers in answers_of(examples, self.args)]
        if not self.version_2_with_negative:
            return squad_metrics([output["answer"] for output in outputs], references)
        assert len(self._answers) == len(outputs), "compute_metrics scores the outputs of the last postprocess"
        diffs = [np.inf if a["null_score_diff"] is None else a["null_score_diff"] for a in self._answers]
        best_spans = [answer["best_span"] for answer in self._answers]
        if self.tune_threshold:
            # training: the threshold that maximises F1 here is the one the model is saved with, and the outputs
            # and scores are those it gives (so `transfuse evaluate` on the run folder reproduces them)
            self.null_threshold = squad_v2_metrics(best_spans, references, diffs, best_spans)["best_f1_threshold"]
            if self.model_config is not None:
                self.model_config.update(self.config_updates())
            for index, answer in enumerate(self._answers):
                outputs[index].update(self._output(outputs[index]["id"], decide(answer, self.threshold)))
        predictions = [output["answer"] for output in outputs]
        metrics = squad_v2_metrics(predictions, references, diffs, best_spans)
        metrics["null_score_diff_threshold"] = self.threshold
        return metrics

    def card_metrics(self, metrics: dict[str, Any]) -> dict[str, float]:
        keep = ("exact_match", "f1", "has_ans_f1", "no_ans_f1", "best_f1")
        return {key: float(metrics[key]) for key in keep if key in metrics}


class RightPaddingCollator:
    """Pads windows on the right whatever the tokenizer's side, so logit position k is token k of the window
    (post-processing reads offsets by position); the bookkeeping columns never reach it (the Trainer drops
    the columns the model does not take)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        features = [{k: v for k, v in f.items() if k not in (EXAMPLE_INDEX, OFFSETS, NULL_INDEX)} for f in features]
        return self.tokenizer.pad(
            features, padding=True, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, padding_side="right", return_tensors="pt"
        )


def pipeline_entry() -> dict[str, Any]:
    """The `custom_pipelines` config entry that lets `transformers.pipeline("question-answering", model=RUN,
    pipeline_class=transfuse.tasks.qa.QuestionAnsweringPipeline)` load a run folder: transformers 5 removed
    its own question-answering pipeline and refuses the name unless the model's config declares it."""
    return {
        PIPELINE_TAG: {
            "impl": "transfuse_qa_pipeline.QuestionAnsweringPipeline",
            "pt": ["AutoModelForQuestionAnswering"],
            "type": "text",
        }
    }


__all__ = [
    "CONFIG_KEYS",
    "QuestionAnsweringArguments",
    "QuestionAnsweringTask",
    "RightPaddingCollator",
    "pipeline_entry",
]
