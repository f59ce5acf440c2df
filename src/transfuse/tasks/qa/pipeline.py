"""`QuestionAnsweringPipeline`: `transformers.pipeline("question-answering")` for transformers 5, over the
same windows and post-processing as `transfuse predict`.

transformers 5 removed its question-answering pipeline (`pipeline("question-answering")` raises KeyError) but
still loads a pipeline a model's config declares under `custom_pipelines`. The `qa` task writes that entry
into every run folder's config, so

    from transformers import pipeline
    from transfuse.tasks.qa import QuestionAnsweringPipeline
    qa = pipeline("question-answering", model=RUN, pipeline_class=QuestionAnsweringPipeline)
    qa(question="Who wrote it?", context="It was written by Ada.")
    # {"answer": "Ada", "start": 18, "end": 21, "score": 0.93, "is_impossible": False}

works on a full-model run folder and a checkpoint. An adapter run folder holds `config.json` beside the adapter,
which makes `pipeline()` look for full weights there; `question_answering_pipeline(RUN)` loads either kind
(the adapter onto its base with `transfuse.adapters.load_for_inference`) and hands the model to `pipeline()`.

The windows (`qa_max_seq_length`, `qa_doc_stride`), the answer length, SQuAD v2 and the null
threshold tuned on validation come from the model config, as in `transfuse predict`, so both give the same
answer. The call arguments of the removed pipeline that still mean something are accepted: `top_k`,
`handle_impossible_answer`, `max_answer_len`, `max_seq_len`, `doc_stride`, and `null_score_diff_threshold`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, Pipeline, pipeline

from .features import EXAMPLE_INDEX, NULL_INDEX, OFFSETS, check_fast_tokenizer, default_doc_stride, prepare_features
from .postprocessing import DEFAULT_MAX_ANSWER_LENGTH, DEFAULT_N_BEST_SIZE, answer_example

DEFAULT_MAX_SEQ_LENGTH = 384


class QuestionAnsweringPipeline(Pipeline):
    """Extractive QA over one or several `{"question", "context"}` inputs; see the module docstring."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        check_fast_tokenizer(self.tokenizer)
        forward = inspect.signature(self.model.forward).parameters
        self._model_keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in forward]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """`qa(question=..., context=...)`, `qa({"question", "context"})` or a list of such dicts."""
        if not args and "question" in kwargs and "context" in kwargs:
            question, context = kwargs.pop("question"), kwargs.pop("context")
            if isinstance(question, list):
                args = ([{"question": q, "context": c} for q, c in zip(question, context)],)
            else:
                args = ({"question": question, "context": context},)
        return super().__call__(*args, **kwargs)

    def _setting(self, name: str, default: Any) -> Any:
        value = getattr(self.model.config, f"qa_{name}", None)
        return default if value is None else value

    def _sanitize_parameters(
        self,
        top_k: int | None = None,
        handle_impossible_answer: bool | None = None,
        max_answer_len: int | None = None,
        max_seq_len: int | None = None,
        doc_stride: int | None = None,
        null_score_diff_threshold: float | None = None,
        **kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        preprocess = {}
        if max_seq_len is not None:
            preprocess["max_seq_len"] = max_seq_len
        if doc_stride is not None:
            preprocess["doc_stride"] = doc_stride
        postprocess = {
            key: value
            for key, value in {
                "top_k": top_k,
                "handle_impossible_answer": handle_impossible_answer,
                "max_answer_len": max_answer_len,
                "null_score_diff_threshold": null_score_diff_threshold,
            }.items()
            if value is not None
        }
        return preprocess, {}, postprocess

    def preprocess(
        self, inputs: Mapping[str, str], max_seq_len: int | None = None, doc_stride: int | None = None
    ) -> dict[str, Any]:
        if not isinstance(inputs, Mapping) or not {"question", "context"} <= set(inputs):
            raise ValueError(f'question-answering takes {{"question": ..., "context": ...}}, got {inputs!r}')
        length = max_seq_len or int(self._setting("max_seq_length", DEFAULT_MAX_SEQ_LENGTH))
        stride = doc_stride or int(self._setting("doc_stride", default_doc_stride(length)))
        if stride >= length:
            stride = default_doc_stride(length)
        features = prepare_features(
            self.tokenizer, [inputs["question"]], [inputs["context"]], [0], length, stride, ids=["input"]
        )
        model_inputs = self.tokenizer.pad(
            {key: features[key] for key in self._model_keys if key in features},
            padding=True,
            padding_side="right",
            return_tensors="pt",
        )
        return {
            "model_inputs": dict(model_inputs),
            "offsets": features[OFFSETS],
            "null_indices": features[NULL_INDEX],
            "context": inputs["context"],
            "windows": len(features[EXAMPLE_INDEX]),
        }

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        output = self.model(**inputs["model_inputs"])
        return {
            "start_logits": output.start_logits,
            "end_logits": output.end_logits,
            **{key: value for key, value in inputs.items() if key != "model_inputs"},
        }

    def postprocess(
        self,
        outputs: dict[str, Any],
        top_k: int = 1,
        handle_impossible_answer: bool | None = None,
        max_answer_len: int | None = None,
        null_score_diff_threshold: float | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        start = outputs["start_logits"].to(torch.float32).cpu().numpy()
        end = outputs["end_logits"].to(torch.float32).cpu().numpy()
        windows = [
            (
                start[w],
                end[w],
                [tuple(s) if s is not None else None for s in outputs["offsets"][w]],
                int(outputs["null_indices"][w]),
            )
            for w in range(outputs["windows"])
        ]
        version_2 = (
            bool(self._setting("version_2_with_negative", False))
            if handle_impossible_answer is None
            else handle_impossible_answer
        )
        threshold = null_score_diff_threshold
        if threshold is None:
            threshold = float(self._setting("null_score_diff_threshold", 0.0))
        answer = answer_example(
            outputs["context"],
            windows,
            version_2_with_negative=version_2,
            null_threshold=threshold,
            n_best_size=max(DEFAULT_N_BEST_SIZE, top_k),
            max_answer_length=max_answer_len or int(self._setting("max_answer_length", DEFAULT_MAX_ANSWER_LENGTH)),
        )
        best = _as_pipeline_answer(answer)
        if top_k == 1:
            return best
        others = [_span_answer(span) for span in answer["n_best"] if span["answer"] != best["answer"]]
        return [best, *others][:top_k]


def _span_answer(span: Mapping[str, Any]) -> dict[str, Any]:
    start = span["start"]
    return {
        "answer": span["answer"],
        "start": start,
        "end": start + len(span["answer"]),
        "score": float(span["score"]),
        "is_impossible": False,
    }


def _as_pipeline_answer(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The removed pipeline's `{"score", "start", "end", "answer"}`; no answer is `""` at 0-0, as it was."""
    if answer["start"] is None:
        return {"answer": "", "start": 0, "end": 0, "score": float(answer["score"]), "is_impossible": True}
    return {**_span_answer(answer), "score": float(answer["score"]), "is_impossible": bool(answer["is_impossible"])}


def question_answering_pipeline(run_folder: str | Path, **kwargs: Any) -> QuestionAnsweringPipeline:
    """`pipeline("question-answering")` on a run folder of either kind (full model or adapter + head);
    `kwargs` go to `transformers.pipeline` (e.g. `device`)."""
    from ...adapters import is_adapter_folder, load_for_inference
    from ...adapters.base_folder import task_config_source

    run_folder = str(run_folder)
    if not is_adapter_folder(run_folder):
        return pipeline("question-answering", model=run_folder, pipeline_class=QuestionAnsweringPipeline, **kwargs)
    model = load_for_inference(run_folder)
    has_tokenizer = (Path(run_folder) / "tokenizer_config.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(
        run_folder if has_tokenizer else model.peft_config[model.active_adapter].base_model_name_or_path
    )
    return pipeline(
        "question-answering",
        model=model,
        config=str(task_config_source(run_folder) or run_folder),  # the task config: pipeline entry, threshold
        tokenizer=tokenizer,
        pipeline_class=QuestionAnsweringPipeline,
        **kwargs,
    )


__all__ = ["QuestionAnsweringPipeline", "question_answering_pipeline"]
