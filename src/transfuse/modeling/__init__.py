"""The transfuse model family and its registration with the `transformers` Auto classes.

Importing this package registers `model_type="transfuse"` with `AutoConfig` and every head of the heads table
(`heads.py`) with its `AutoModelFor*` class, and marks each class for `register_for_auto_class`, so
`save_pretrained` copies the modeling code next to the weights and writes an `auto_map` listing every head: the
folder then loads with `trust_remote_code=True` in an environment where transfuse is not installed.

It also registers `model_type="predicate_tagger"` (`predicate_tagger.py`: a token tagger over any encoder that
reads each word next to the marked predicate, semantic role labelling's predicate-aware head) with `AutoConfig` and
`AutoModelForTokenClassification`, so run folders of it load through the Auto classes and the pipelines.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModelForTokenClassification

from . import modeling_transfuse
from .configuration_transfuse import TransfuseConfig
from .heads import HEADS, auto_map
from .modeling_transfuse import *  # noqa: F403  (the model classes, listed in modeling_transfuse.__all__)
from .predicate_tagger import PredicateTaggerConfig, PredicateTaggerForTokenClassification
from .presets import PRESETS, get_preset

# Auto class name -> (Auto class, transfuse class), from the heads table
AUTO_CLASSES = {head.auto_name: (head.auto_class, head.model_class) for head in HEADS}
AUTO_MAP = auto_map()


def _register() -> None:
    AutoConfig.register(TransfuseConfig.model_type, TransfuseConfig, exist_ok=True)
    TransfuseConfig.register_for_auto_class()
    TransfuseConfig.default_auto_map = AUTO_MAP
    for head in HEADS:
        head.auto_class.register(TransfuseConfig, head.model_class, exist_ok=True)
        head.model_class.register_for_auto_class(head.auto_name)
    AutoConfig.register(PredicateTaggerConfig.model_type, PredicateTaggerConfig, exist_ok=True)
    AutoModelForTokenClassification.register(
        PredicateTaggerConfig, PredicateTaggerForTokenClassification, exist_ok=True
    )
    PredicateTaggerConfig.register_for_auto_class()
    PredicateTaggerForTokenClassification.register_for_auto_class("AutoModelForTokenClassification")


_register()

__all__ = [
    "AUTO_CLASSES",
    "AUTO_MAP",
    "HEADS",
    "PRESETS",
    "PredicateTaggerConfig",
    "PredicateTaggerForTokenClassification",
    "TransfuseConfig",
    "get_preset",
    *modeling_transfuse.__all__,
]
