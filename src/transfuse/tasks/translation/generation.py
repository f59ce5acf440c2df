"""Decoding settings of a translation model, shared by the Trainer path (`transfuse evaluate|predict`) and the
`translation` pipeline, so that both translate a sentence the same way.

Two homes, because `GenerationConfig` keeps only its own fields when saved: the beam size, length penalty,
n-gram blocking and the length cap go into the model's `generation_config` (what `generate()` and any
`transformers` user read), and what `generate()` cannot express goes into the model config's `translation`
dict (languages, source prefix, source length, and the maximum output length *relative to the source*:
`ratio * source tokens + offset` new tokens, fairseq's `max_len_a`/`max_len_b`).
"""

from __future__ import annotations

import math
from typing import Any

CONFIG_KEY = "translation"  # the model config attribute holding the task's settings
DEFAULT_NUM_BEAMS = 4


def settings_of(config: Any) -> dict[str, Any]:
    """The `translation` dict of a model config (empty for a model not trained by this task)."""
    return dict(getattr(config, CONFIG_KEY, None) or {})


def max_new_tokens(source_length: int, ratio: float, offset: int, cap: int) -> int:
    """New tokens allowed for a source of `source_length` tokens: ceil(ratio * length) + offset, at most
    `cap`."""
    return max(1, min(cap, math.ceil(ratio * source_length) + offset))


def update_generation_config(
    generation_config: Any, options: Any, trained: bool, max_target_length: int | None = None
) -> dict[str, Any]:
    """Write the decoding flags into `generation_config` in place; returns what changed.

    Unset flags (None) keep what the model has, except for a model this run trains, which gets the defaults
    (beam 4, length penalty 1, no n-gram blocking). `max_length` (the whole output, start token included) is
    the cap: `max_target_length` (default `--max_target_length`; the task lowers it to the model's positions)
    + 1."""
    defaults = {"num_beams": DEFAULT_NUM_BEAMS, "length_penalty": 1.0, "no_repeat_ngram_size": 0}
    changes = {}
    for name, default in defaults.items():
        value = getattr(options, name)
        if value is None and trained:
            value = default
        if value is not None:
            changes[name] = value
    changes["max_length"] = (max_target_length or options.max_target_length) + 1
    changes["max_new_tokens"] = None  # the relative limit is applied per batch; max_length is only the cap
    if (changes.get("num_beams") or getattr(generation_config, "num_beams", None) or 1) > 1:
        changes["early_stopping"] = True  # stop a beam search once num_beams hypotheses are finished
    for name, value in changes.items():
        setattr(generation_config, name, value)
    return changes


__all__ = ["CONFIG_KEY", "DEFAULT_NUM_BEAMS", "max_new_tokens", "settings_of", "update_generation_config"]
