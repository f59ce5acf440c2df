"""Fixtures of the Hub tests; the run folders themselves are built by `hub_runs.py`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import fake_hub`, `import hub_runs` from the tests

from hub_runs import build_hub_runs  # noqa: E402


@pytest.fixture(scope="session")
def hub_runs(tmp_path_factory) -> dict[str, Path]:
    """`{"model": full-model run folder, "adapter": LoRA run folder whose base is that model}`."""
    return build_hub_runs(tmp_path_factory.mktemp("runs"))
