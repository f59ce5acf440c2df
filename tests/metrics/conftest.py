"""Shared helpers for the metric tests: a strict JSON check and an offline guard for ``evaluate``."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest


def _assert_plain_json(obj: Any) -> None:
    """Every leaf is a builtin (no numpy scalar) and the whole thing survives strict ``json.dumps``."""

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                assert type(key) is str, f"{path}: non-str key {key!r}"
                walk(sub, f"{path}.{key}")
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                walk(sub, f"{path}[{i}]")
        else:
            assert type(value) in (float, int, bool, str), f"{path}: {type(value).__name__} is not a builtin"

    walk(obj, "result")
    assert json.loads(json.dumps(obj, allow_nan=False)) == obj


@pytest.fixture
def assert_plain_json() -> Callable[[Any], None]:
    """The JSON-serialisability check every metric result must pass."""
    return _assert_plain_json


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub offline env vars plus a socket that refuses to connect, so any download attempt fails loudly."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "1")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
