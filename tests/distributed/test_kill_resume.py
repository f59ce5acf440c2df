"""A training run killed with SIGKILL, twice, resumes and ends exactly where an uninterrupted run ends.

`scripts/run_classification.py` (4 steps, a checkpoint every 2) runs under `launch_probe.py`, which stops the
process at a chosen point so the kill lands there and nowhere else:

1. kill after its first checkpoint, between optimizer steps 3 and 4;
2. resume with `--resume_from_checkpoint auto`, kill in the middle of saving checkpoint-4 (its weights are
   written, its optimizer state is not): no `checkpoint-4` may appear, and `auto` must go back to checkpoint-2;
3. resume again: the run finishes with the uninterrupted run's weights (bit for bit) and metrics.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from script_runs import PROBE, SCRIPT, classification_args, quiet_env
from transformers.trainer_utils import get_last_checkpoint

from transfuse.common.checkpointing import PARTIAL_DIR, last_complete_checkpoint


def _start(record: Path, output_dir: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    record.mkdir()
    return subprocess.Popen(
        [sys.executable, str(PROBE), str(record), str(SCRIPT), *classification_args(output_dir, batch_size=8), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _kill_when_paused(process: subprocess.Popen, record: Path, timeout: float = 300) -> str:
    marker = record / "paused-rank0"
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before its kill point:\n{process.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the run never reached its kill point")
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return marker.read_text()


def _log_losses(checkpoint: Path) -> list[float]:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def test_killed_twice_resumes_to_the_uninterrupted_result(tmp_path):
    env = quiet_env(tmp_path)
    reference_dir, run_dir = tmp_path / "reference", tmp_path / "run"
    reference = _start(tmp_path / "record-reference", reference_dir, env)

    # 1. killed after its first checkpoint, between two training steps (runs alongside the reference)
    first = _start(tmp_path / "record-1", run_dir, {**env, "PROBE_PAUSE_AT_STEP": "3"})
    assert _kill_when_paused(first, tmp_path / "record-1") == "after step 3"
    assert last_complete_checkpoint(run_dir).endswith("checkpoint-2")

    # 2. resumed, then killed half-way through writing checkpoint-4
    pause_on = str(run_dir / PARTIAL_DIR / "checkpoint-4" / "optimizer.pt")
    second = _start(
        tmp_path / "record-2", run_dir, {**env, "PROBE_PAUSE_ON": pause_on}, "--resume_from_checkpoint", "auto"
    )
    assert _kill_when_paused(second, tmp_path / "record-2") == pause_on
    assert (run_dir / PARTIAL_DIR / "checkpoint-4" / "model.safetensors").is_file()  # half a checkpoint ...
    assert not (run_dir / "checkpoint-4").exists()  # ... that never looks like one
    assert get_last_checkpoint(str(run_dir)).endswith("checkpoint-2")
    assert not (run_dir / "metrics.json").exists()

    # 3. resumed again, to the end
    third = _start(tmp_path / "record-3", run_dir, env, "--resume_from_checkpoint", "auto")
    third_log = third.communicate(timeout=300)[0]
    assert third.returncode == 0, third_log[-3000:]
    reference_log = reference.communicate(timeout=300)[0]
    assert reference.returncode == 0, reference_log[-3000:]

    resumed, uninterrupted = load_file(run_dir / "model.safetensors"), load_file(reference_dir / "model.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    for name, weight in uninterrupted.items():
        assert torch.equal(resumed[name], weight), name
    resumed_metrics = json.loads((run_dir / "metrics.json").read_text())["eval"]
    reference_metrics = json.loads((reference_dir / "metrics.json").read_text())["eval"]
    for key in ("loss", "accuracy", "f1_macro", "matthews_correlation", "per_class"):
        assert resumed_metrics[key] == reference_metrics[key], key
    assert _log_losses(run_dir / "checkpoint-4") == _log_losses(reference_dir / "checkpoint-4")
    assert not (run_dir / PARTIAL_DIR).exists()
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
