"""`transfuse.allocator`: the glibc malloc settings of model commands, their switch, and the `transfuse` entry
point applying them. Page faults, not timings, show the effect: a process that allocates and frees a 64 MiB
buffer over and over faults it in again each time under glibc's defaults, and once with the settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from transfuse import allocator
from transfuse.cli import main as cli_main

ALLOCATE_AND_FREE = f"""
import importlib.util, resource
spec = importlib.util.spec_from_file_location("allocator", {allocator.__file__!r})  # stdlib only: no torch
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
applied = module.apply_malloc_settings()
buffer = bytearray(64 << 20); del buffer  # the first one faults in any case
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    buffer = bytearray(64 << 20)  # zero-filled: every page is touched
    del buffer
print(sorted(applied), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
"""

needs_glibc = pytest.mark.skipif(allocator._glibc() is None, reason="the settings are glibc's")


def _faults(**env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != allocator.SWITCH}
    done = subprocess.run(
        [sys.executable, "-c", ALLOCATE_AND_FREE],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    names, faults = done.stdout.strip().rsplit(" ", 1)
    return names, int(faults)


@needs_glibc
def test_settings_stop_the_page_faults_and_the_switch_turns_them_off() -> None:
    names, faults = _faults()
    assert names == str(sorted(allocator.MALLOC_SETTINGS)) and faults < 1000
    names, faults = _faults(TRANSFUSE_MALLOC="0")
    assert names == "[]" and faults > 8000  # 64 MiB = 16,384 pages of 4 KiB (fewer with huge pages)


@needs_glibc
def test_a_variable_the_user_exported_wins() -> None:
    applied = allocator.apply_malloc_settings({"MALLOC_TOP_PAD_": "0"})
    assert set(applied) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
    assert allocator.apply_malloc_settings({"TRANSFUSE_MALLOC": "off"}) == {}


def test_only_model_commands_of_the_transfuse_process_apply_them(monkeypatch, capsys) -> None:
    seen = []
    monkeypatch.setattr(cli_main, "apply_for_command", seen.append)
    monkeypatch.setattr(sys, "argv", ["transfuse", "predict"])
    assert cli_main.main() == 0 and seen == ["predict"]  # the console script: argv from the process
    assert cli_main.main(["predict"]) == 0 and seen == ["predict"]  # called from Python: not its process
    capsys.readouterr()
    assert allocator.apply_for_command("push") == {} and allocator.apply_for_command(None) == {}


def test_shell_exports_for_launchers() -> None:
    assert allocator.shell_exports().splitlines() == [
        "export MALLOC_MMAP_THRESHOLD_=1073741824",
        "export MALLOC_TRIM_THRESHOLD_=2147483647",
        "export MALLOC_TOP_PAD_=268435456",
    ]
