"""Named model sizes: `get_preset("tiny" | "small" | "base", architecture=..., **overrides)`.

`tiny` feeds every test (fast on 2 CPU cores); `small` is the size of the benchmarks and the demo; `base` is the
original Transformer-base width. Overrides replace any field, and `TransfuseConfig` validates the result.
"""

from __future__ import annotations

from typing import Any

from .configuration_transfuse import TransfuseConfig

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        vocab_size=128,
        hidden_size=32,
        num_attention_heads=2,
        num_hidden_layers=2,
        intermediate_size=64,
        max_position_embeddings=64,
    ),
    "small": dict(
        vocab_size=8000,
        hidden_size=256,
        num_attention_heads=4,
        num_hidden_layers=4,
        intermediate_size=1024,
        max_position_embeddings=512,
    ),
    "base": dict(
        vocab_size=32000,
        hidden_size=768,
        num_attention_heads=12,
        num_hidden_layers=12,
        intermediate_size=3072,
        max_position_embeddings=512,
    ),
}


def get_preset(name: str, architecture: str = "encoder", **overrides: Any) -> TransfuseConfig:
    """Build a `TransfuseConfig` from a named size, e.g. `get_preset("small", "decoder", vocab_size=len(tok))`."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(map(repr, PRESETS))} (--preset).")
    return TransfuseConfig(**{**PRESETS[name], "architecture": architecture, **overrides})


__all__ = ["PRESETS", "get_preset"]
