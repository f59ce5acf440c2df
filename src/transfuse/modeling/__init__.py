"""The transfuse model family and its registration with the `transformers` Auto classes.

Importing this package registers `model_type="transfuse"` with `AutoConfig` and every head with its
`AutoModelFor*` class, and marks each class for `register_for_auto_class`, so `save_pretrained` copies the
modeling code next to the weights and writes an `auto_map` listing every head: the folder then loads with
`trust_remote_code=True` in an environment where transfuse is not installed.
"""

from __future__ import annotations

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from .configuration_transfuse import AUTO_MAP, TransfuseConfig
from .modeling_transfuse import (
    TransfuseForCausalLM,
    TransfuseForConditionalGeneration,
    TransfuseForMaskedLM,
    TransfuseForQuestionAnswering,
    TransfuseForSequenceClassification,
    TransfuseForTokenClassification,
    TransfuseModel,
    TransfusePreTrainedModel,
)
from .presets import PRESETS, get_preset

AUTO_CLASSES = {
    "AutoModel": (AutoModel, TransfuseModel),
    "AutoModelForMaskedLM": (AutoModelForMaskedLM, TransfuseForMaskedLM),
    "AutoModelForCausalLM": (AutoModelForCausalLM, TransfuseForCausalLM),
    "AutoModelForSeq2SeqLM": (AutoModelForSeq2SeqLM, TransfuseForConditionalGeneration),
    "AutoModelForSequenceClassification": (AutoModelForSequenceClassification, TransfuseForSequenceClassification),
    "AutoModelForQuestionAnswering": (AutoModelForQuestionAnswering, TransfuseForQuestionAnswering),
    "AutoModelForTokenClassification": (AutoModelForTokenClassification, TransfuseForTokenClassification),
}



def _register() -> None:
    assert AUTO_MAP.keys() == {"AutoConfig", *AUTO_CLASSES}, "AUTO_MAP and AUTO_CLASSES must list the same heads"
    AutoConfig.register(TransfuseConfig.model_type, TransfuseConfig, exist_ok=True)
    TransfuseConfig.register_for_auto_class()
    for auto_name, (auto_class, model_class) in AUTO_CLASSES.items():
        auto_class.register(TransfuseConfig, model_class, exist_ok=True)
        model_class.register_for_auto_class(auto_name)


_register()

__all__ = [
    "AUTO_MAP",
    "PRESETS",
    "TransfuseConfig",
    "TransfuseForCausalLM",
    "TransfuseForConditionalGeneration",
    "TransfuseForMaskedLM",
    "TransfuseForQuestionAnswering",
    "TransfuseForSequenceClassification",
    "TransfuseForTokenClassification",
    "TransfuseModel",
    "TransfusePreTrainedModel",
    "get_preset",
]
