"""`transformers.pipeline("text2text-generation", model=RUN)`: the seq2seq pipeline transformers 5 removed, back.

Importing this module (`import transfuse.tasks.qa` does) registers `Text2TextGenerationPipeline` for
`AutoModelForSeq2SeqLM` under `text2text-generation` (and takes the name off transformers' list of removed
tasks), as the translation task does for `translation`. It generates with the model's generation config (the
beam size and answer length a `generative-qa` run saved there), so on a run folder

    qa = pipeline("text2text-generation", model=RUN)
    qa("question: Who wrote it? context: It was written by Ada.")  # [{"generated_text": "ada"}]
    qa({"question": "Who wrote it?", "context": "It was written by Ada."})
    # [{"generated_text": "ada", "answer": "ada", "is_impossible": False}]

gives what `transfuse predict generative-qa` writes: a `{"question", "context"}` input is formatted and its
context truncated as the task does (`generative_inputs`), and the no-answer text the run was trained with
(SQuAD v2) becomes `answer: ""`, `is_impossible: True`. A decoder-only run folder uses transformers' own
`text-generation` pipeline on the prompt of `generative_inputs.decoder_prompt` (see the README).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import AutoModelForSeq2SeqLM, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY, REMOVED_TASKS

from .generative_inputs import seq2seq_input

PIPELINE_TASK = "text2text-generation"
CONFIG_KEY = "generative_qa"  # the model config attribute holding the task's settings


def settings_of(config: Any) -> dict[str, Any]:
    """The `generative_qa` dict of a model config (empty for a model not trained by the task)."""
    return dict(getattr(config, CONFIG_KEY, None) or {})


def as_answer(text: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """`{"answer", "is_impossible"}` of a generated text: the no-answer text of a SQuAD v2 model is no answer."""
    no_answer = settings.get("no_answer_text")
    if settings.get("version_2_with_negative") and no_answer and text.strip().lower() == no_answer.strip().lower():
        return {"answer": "", "is_impossible": True}
    return {"answer": text.strip(), "is_impossible": False}


class Text2TextGenerationPipeline(Pipeline):
    """Text (or `{"question", "context"}`) in, `{"generated_text": ...}` out; call keyword arguments go to
    `generate()`."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def _sanitize_parameters(self, **generate_kwargs: Any):
        return {}, generate_kwargs, {}

    def preprocess(self, inputs: str | Mapping[str, str]) -> dict[str, Any]:
        if isinstance(inputs, Mapping):
            if not {"question", "context"} <= set(inputs):
                raise ValueError(
                    f'text2text-generation takes text or {{"question": ..., "context": ...}}, got {inputs!r}'
                )
            settings = settings_of(self.model.config)
            limit = settings.get("max_seq_length") or self.tokenizer.model_max_length
            ids = seq2seq_input(self.tokenizer, inputs["question"], inputs["context"], limit).ids
            model_inputs = self.tokenizer.pad({"input_ids": [ids]}, return_tensors="pt")
            return {**model_inputs, "question_answering": True}
        return {**self.tokenizer(inputs, return_tensors="pt", truncation=True), "question_answering": False}

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        question_answering = model_inputs.pop("question_answering")
        return {"output_ids": self.model.generate(**model_inputs, **generate_kwargs), "qa": question_answering}

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, Any]:
        text = self.tokenizer.decode(model_outputs["output_ids"][0], skip_special_tokens=True).strip()
        if not model_outputs["qa"]:
            return {"generated_text": text}
        return {"generated_text": text, **as_answer(text, settings_of(self.model.config))}


def register() -> None:
    """Register the pipeline (idempotent)."""
    REMOVED_TASKS.pop(PIPELINE_TASK, None)
    if PIPELINE_REGISTRY.supported_tasks.get(PIPELINE_TASK, {}).get("impl") is not Text2TextGenerationPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK, pipeline_class=Text2TextGenerationPipeline, pt_model=AutoModelForSeq2SeqLM, type="text"
        )


register()

__all__ = ["CONFIG_KEY", "PIPELINE_TASK", "Text2TextGenerationPipeline", "as_answer", "register", "settings_of"]
