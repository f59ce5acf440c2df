"""`transformers.pipeline("semantic-role-labeling", model=RUN)`: SRL frames from raw sentences or given predicates.

Registered with `transformers.pipelines.PIPELINE_REGISTRY` when `transfuse.tasks.srl` is imported. Inputs:

* a raw sentence (`"American forces killed him ."`) or a list of words: the model's predicate identifier finds
  the predicates; the answer is `{"tokens", "frames": [one frame per predicate, in sentence order]}`;
* `{"tokens": [...], "predicate_index": i}` (or `{"text": ..., "predicate_index": i}`): that predicate's frame,
  `{"predicate_index", "predicate", "tags", "arguments", "description"}`.

These are the outputs `transfuse predict srl` writes for the same rows: both encode, run and decode with the same
functions (`alignment`, `inference`, `decoding`) and the settings stored in the model config.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoModelForTokenClassification, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .alignment import encode_propositions, model_marking, word_scores
from .decoding import DECODINGS, decode, frame
from .inference import feature_logits, find_predicates, split_words

TASK = "semantic-role-labeling"


class SemanticRoleLabelingPipeline(Pipeline):
    """Frames (`predicate`, BIO `tags`, `arguments`, `description`) for the predicates of a sentence."""

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_video_processor = False

    def _sanitize_parameters(self, decoding: str | None = None, max_length: int | None = None, **kwargs):
        if decoding is not None and decoding not in DECODINGS:
            raise ValueError(f"decoding={decoding!r} is not supported; choose one of {', '.join(DECODINGS)}.")
        preprocess = {"max_length": max_length} if max_length else {}
        return preprocess, {}, {"decoding": decoding} if decoding else {}

    @property
    def _labels(self) -> list[str]:
        config = self.model.config
        return [config.id2label[i] for i in range(config.num_labels)]

    @property
    def _marking(self) -> str:
        return model_marking(self.model.config)

    def preprocess(self, inputs: Any, max_length: int | None = None) -> dict[str, Any]:
        max_length = max_length or getattr(self.tokenizer, "model_max_length", 512)
        if isinstance(inputs, dict):
            words = inputs.get("tokens") or split_words(inputs.get("text", ""))
            predicate = inputs.get("predicate_index")
        else:
            words = split_words(inputs) if isinstance(inputs, str) else list(inputs)
            predicate = None
        if not words:
            raise ValueError(f"{TASK}: the input {inputs!r} holds no words.")
        if predicate is None:
            if not getattr(self.model.config, "srl_predicate_identifier", False):
                raise ValueError(
                    f"{TASK}: this model was trained without a predicate identifier; pass "
                    '{"tokens": [...], "predicate_index": i} for each predicate.'
                )
            predicates = (
                find_predicates(self.model, self.tokenizer, [words], self._marking, self._labels, max_length)[0] or []
            )
        else:
            predicates = [int(predicate)]
        features = encode_propositions(self.tokenizer, [words] * len(predicates), predicates, self._marking)
        return {"tokens": words, "predicates": predicates, "features": features, "raw": predicate is None}

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        return {**model_inputs, "logits": feature_logits(self.model, self.tokenizer, model_inputs["features"])}

    def postprocess(self, model_outputs: dict[str, Any], decoding: str = "viterbi") -> dict[str, Any]:
        words, labels = model_outputs["tokens"], self._labels
        frames = []
        for predicate, feature, logits in zip(
            model_outputs["predicates"], model_outputs["features"], model_outputs["logits"]
        ):
            scores = word_scores(logits, feature["word_positions"])
            frames.append(frame(words, predicate, decode(scores, labels, predicate, decoding)))
        if model_outputs["raw"]:
            return {"tokens": list(words), "frames": frames}
        return frames[0]


def register_pipeline() -> None:
    """Make `pipeline("semantic-role-labeling", ...)` known to transformers (idempotent)."""
    if TASK not in PIPELINE_REGISTRY.get_supported_tasks():
        PIPELINE_REGISTRY.register_pipeline(
            TASK, pipeline_class=SemanticRoleLabelingPipeline, pt_model=AutoModelForTokenClassification, type="text"
        )


__all__ = ["TASK", "SemanticRoleLabelingPipeline", "register_pipeline"]
