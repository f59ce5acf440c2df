"""`transformers.pipeline("translation", model=RUN)`: the seq2seq translation pipeline, back under its name.

transformers 5 removed the `translation` pipeline (it points users to chat models); a trained encoder-decoder
still deserves one. Importing this module registers `TranslationPipeline` for `AutoModelForSeq2SeqLM` under
`translation` in transformers' pipeline registry (and takes the name off the list of removed tasks, which is
what would otherwise refuse it). The pipeline translates each input as `transfuse predict translation` does:
the source prefix and source length of the model's `translation` settings, the model's generation config, and
at most `ratio * source tokens + offset` new tokens, and outputs read back with the model's target tokenizer
(`vocabularies.target_tokenizer`: the run folder's `target_tokenizer/` when it was trained with separate
vocabularies). Output: `{"translation_text": ...}` per input.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoModelForSeq2SeqLM, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY, REMOVED_TASKS

from .generation import max_new_tokens, settings_of
from .vocabularies import decode_targets, target_tokenizer

PIPELINE_TASK = "translation"


class TranslationPipeline(Pipeline):
    """Text in, `{"translation_text": ...}` out; keyword arguments of the call go to `generate()`."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True
    _target_tokenizer = None  # loaded on first use (`_targets`)

    def _sanitize_parameters(self, **generate_kwargs: Any):
        return {}, generate_kwargs, {}

    def preprocess(self, text: str) -> dict[str, Any]:
        settings = settings_of(self.model.config)
        limit = settings.get("max_source_length") or self.tokenizer.model_max_length
        return self.tokenizer(
            settings.get("source_prefix", "") + text, return_tensors="pt", truncation=True, max_length=limit
        )

    def _forward(self, model_inputs: dict[str, Any], **generate_kwargs: Any) -> dict[str, Any]:
        settings = settings_of(self.model.config)
        if "max_new_tokens" not in generate_kwargs and "max_length_ratio" in settings:
            generate_kwargs["max_new_tokens"] = max_new_tokens(
                int(model_inputs["attention_mask"].sum(dim=-1).max()),
                settings["max_length_ratio"],
                settings["max_length_offset"],
                self.model.generation_config.max_length - 1,
            )
        return {"output_ids": self.model.generate(**model_inputs, **generate_kwargs)}

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, str]:
        return {"translation_text": decode_targets(self._targets(), model_outputs["output_ids"][:1])[0]}

    def _targets(self):
        """The tokenizer that reads generated ids: the model's target tokenizer (the source one when shared)."""
        if self._target_tokenizer is None:
            self._target_tokenizer = target_tokenizer(self.tokenizer, self.model.config)
        return self._target_tokenizer


def register() -> None:
    """Register the pipeline (idempotent)."""
    REMOVED_TASKS.pop(PIPELINE_TASK, None)
    if PIPELINE_REGISTRY.supported_tasks.get(PIPELINE_TASK, {}).get("impl") is not TranslationPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            PIPELINE_TASK, pipeline_class=TranslationPipeline, pt_model=AutoModelForSeq2SeqLM, type="text"
        )


register()

__all__ = ["PIPELINE_TASK", "TranslationPipeline", "register"]
