"""`scripts/run_classification.py` on two CPU processes (DDP over gloo) through `accelerate launch`.

One run on 2 processes x 4 examples and one on 1 process x 8 examples (same global batch, same seed, dropout off)
must train the same model: the data loader hands each step the same 8 examples in both cases and DDP averages
the gradients of the halves, so the only difference is float rounding in differently shaped sums.
Tolerance: 1e-5 absolute on every weight and every logged training loss; accuracy, F1 and MCC are equal, and the
evaluation loss agrees within 5e-3 (see the comment there).

`launch_probe.py` runs the script unchanged in each process and records what that process did.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from script_runs import BIN, EVAL_EXAMPLES, PROBE, REPO, SCRIPT, classification_args, quiet_env

TOKEN = "hf_DdpTestTokenThatMustNeverLeak42"


def _losses(run: Path) -> list[float]:
    state = json.loads((run / "checkpoint-4" / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def _under(paths: list[str], folder: Path) -> list[str]:
    return [os.path.relpath(p, folder) for p in paths if Path(p).is_relative_to(folder)]


def test_two_cpu_processes_train_the_model_one_process_trains(tmp_path):
    sys.path.insert(0, str(REPO / "tests" / "hub"))
    from fake_hub import FakeHub

    ddp_dir, one_dir = tmp_path / "ddp", tmp_path / "one"
    ddp_record, one_record = tmp_path / "record-ddp", tmp_path / "record-one"
    ddp_record.mkdir(), one_record.mkdir()
    with FakeHub(token=TOKEN) as hub:
        hub_env = {"HF_ENDPOINT": hub.endpoint, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_XET": "1", "HF_HUB_OFFLINE": "0"}
        ddp = subprocess.Popen(
            [
                str(BIN / "accelerate"),
                "launch",
                "--multi_gpu",
                "--num_processes",
                "2",
                "--num_machines",
                "1",
                "--main_process_port",
                "0",
                str(PROBE),
                str(ddp_record),
                str(SCRIPT),
                *classification_args(ddp_dir, batch_size=4),
                "--push_to_hub",
                "true",
                "--hub_model_id",
                "tester/ddp",
            ],
            env=quiet_env(tmp_path / "a", **hub_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        one = subprocess.Popen(
            [sys.executable, str(PROBE), str(one_record), str(SCRIPT), *classification_args(one_dir, batch_size=8)],
            env=quiet_env(tmp_path / "b"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ddp_log, one_log = ddp.communicate(timeout=400)[0], one.communicate(timeout=400)[0]
        assert ddp.returncode == 0, ddp_log[-4000:]
        assert one.returncode == 0, one_log[-4000:]
        created = [r for r in hub.requests if r["path"] == "/api/repos/create"]
        commits = [r for r in hub.requests if "/commit/" in r["path"]]
        pushed = hub.files("tester/ddp")

    # both replicas hold the same weights, and they are the single-process model's
    rank0, rank1 = load_file(ddp_record / "rank0.safetensors"), load_file(ddp_record / "rank1.safetensors")
    single = load_file(one_record / "rank0.safetensors")
    saved = load_file(ddp_dir / "model.safetensors")
    for name, weight in rank0.items():
        assert torch.equal(weight, rank1[name]), f"{name} differs between the two ranks"
        torch.testing.assert_close(weight, single[name], rtol=0, atol=1e-5, msg=name)
    assert set(saved) <= set(rank0) and all(torch.equal(saved[n], rank0[n]) for n in saved)
    assert _losses(ddp_dir) == pytest.approx(_losses(one_dir), abs=1e-5)
    assert len(_losses(ddp_dir)) == 4

    # evaluation: every validation example scored exactly once (37 = 2 x 19 - 1 padded duplicate dropped)
    ddp_run = json.loads((ddp_dir / "metrics.json").read_text())
    assert ddp_run["command"].startswith("accelerate launch --multi_gpu --num_processes 2 --num_machines 1")
    ddp_metrics = ddp_run["eval"]
    one_metrics = json.loads((one_dir / "metrics.json").read_text())["eval"]
    assert sum(c["support"] for c in ddp_metrics["per_class"].values()) == EVAL_EXAMPLES
    for key in ("accuracy", "f1_macro", "matthews_correlation"):
        assert ddp_metrics[key] == one_metrics[key]
    # The Trainer's eval loss averages per-batch mean losses; the padded duplicate is cut from the gathered values
    # but already sits inside one batch mean, so this one figure is only close (metrics use the logits: exact)
    assert ddp_metrics["loss"] == pytest.approx(one_metrics["loss"], abs=5e-3)

    # preprocessing ran once: the main process tokenized, the other loaded its cached result
    records = {rank: json.loads((ddp_record / f"rank{rank}.json").read_text()) for rank in (0, 1)}
    assert records[0]["tokenizations"] == ["Tokenizing train", "Tokenizing validation"]
    assert records[1]["tokenizations"] == []

    # only the main process writes the run folder (rank 1 writes nothing but its own RNG state into checkpoints)
    rank1_writes = _under(records[1]["writes"], ddp_dir)
    assert rank1_writes and all(Path(p).name == "rng_state_1.pth" for p in rank1_writes), rank1_writes
    rank0_writes = {Path(p).name for p in _under(records[0]["writes"], ddp_dir)}
    assert {"model.safetensors", "metrics.json", "README.md", "trainer_state.json"} <= rank0_writes

    # ... and pushes, once
    assert len(created) == 1 and len(commits) == 1
    assert {"model.safetensors", "modeling_transfuse.py", "README.md"} <= set(pushed)
    assert TOKEN not in ddp_log
    # the run summary is printed once, by rank 0, not once per rank
    summary = re.compile(r"^train: \d+ s, loss", re.MULTILINE)
    assert len(summary.findall(ddp_log)) == 1 and len(summary.findall(one_log)) == 1, ddp_log[-2000:]


def test_a_cpu_launch_that_starts_one_process_of_two_stops_before_training(tmp_path):
    output_dir = tmp_path / "run"
    result = subprocess.run(
        [
            str(BIN / "accelerate"),
            "launch",
            "--cpu",
            "--num_processes",
            "2",
            str(SCRIPT),
            *classification_args(output_dir, batch_size=4),
        ],
        env=quiet_env(tmp_path, TRANSFUSE_TRACEBACK="0"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "asked for 2 processes (`accelerate launch --cpu --num_processes 2`) but 1 is running" in result.stderr
    assert "accelerate launch --multi_gpu --num_processes 2 --num_machines 1" in result.stderr
    assert not output_dir.exists()  # stopped before any work
