"""The run folder under the accidents that used to go unnoticed: overwriting an old run (whose checkpoints a killed new
run then resumed), resuming with other training arguments, resuming from the final checkpoint, a loss that turns
NaN, and a tokenizer that does not fit the model."""

from __future__ import annotations

import json
import logging
import re

import pytest
import torch
from safetensors.torch import load_file

from conftest import make_sentiment_rows, write_split
from transfuse.common.checkpointing import RESUME_FILE
from transfuse.common.folder import METRICS_FILE
from transfuse.tasks.classification import ClassificationTask
from transfuse.tokenization import train_tokenizer
from transfuse.training import parse_arguments, workflow
from transfuse.training.callbacks import StopAfterMinutes

FLAGS = [
    "--preset",
    "tiny",
    "--vocab_size",
    "300",
    "--max_seq_length",
    "16",
    "--per_device_train_batch_size",
    "8",
    "--logging_steps",
    "1",
    "--disable_tqdm",
    "true",
    "--save_strategy",
    "steps",
    "--save_steps",
    "2",
    "--max_steps",
    "4",
]


@pytest.fixture
def data(tmp_path) -> list[str]:
    return [
        "--train_file",
        write_split(tmp_path / "train.jsonl", make_sentiment_rows(48, seed=0)),
        "--cache_dir",
        str(tmp_path / "cache"),
    ]


def train(*argv: str) -> dict:
    return workflow.train("classification", parse_arguments(ClassificationTask, list(argv)), "transfuse train")


def test_overwriting_moves_the_old_run_aside(tmp_path, data, caplog):
    out = tmp_path / "run"
    train(*data, *FLAGS, "--output_dir", str(out))
    old_weights = (out / "model.safetensors").read_bytes()
    with caplog.at_level(logging.WARNING, logger="transfuse"):
        train(*data, *FLAGS, "--max_steps", "2", "--seed", "7", "--output_dir", str(out), "--overwrite_output_dir")
    assert not (out / "checkpoint-4").exists()  # nothing of the old run is left to be resumed by mistake
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-")) == ["checkpoint-2"]
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-")]
    assert len(moved) == 1 and (moved[0] / "model.safetensors").read_bytes() == old_weights
    assert (moved[0] / "checkpoint-4").is_dir()
    assert f"moved the run in --output_dir {str(out)!r} aside to {str(moved[0])!r}" in caplog.text


def test_overwriting_the_current_folder_is_refused(tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / METRICS_FILE).write_text("{}")
    with pytest.raises(ValueError, match="--output_dir '.' is the current folder"):
        train(*data, *FLAGS, "--output_dir", ".", "--overwrite_output_dir")


def test_resume_refuses_a_checkpoint_of_other_training_arguments(tmp_path, data):
    out = tmp_path / "run"
    train(*data, *FLAGS, "--output_dir", str(out))
    saved = json.loads((out / "checkpoint-2" / RESUME_FILE).read_text())
    assert saved["learning_rate"] == 5e-05 and saved["seed"] == 42 and saved["max_steps"] == 4
    (out / METRICS_FILE).unlink()  # as if killed after checkpoint-2 was saved
    for path in sorted((out / "checkpoint-4").iterdir()):
        path.unlink()
    (out / "checkpoint-4").rmdir()
    with pytest.raises(
        ValueError,
        match=r"checkpoint-2 was saved by a run with other training arguments: "
        r"learning_rate 5e-05 there, 0.001 here; seed 42 there, 3 here",
    ):
        train(
            *data,
            *FLAGS,
            "--output_dir",
            str(out),
            "--resume_from_checkpoint",
            "auto",
            "--learning_rate",
            "1e-3",
            "--seed",
            "3",
        )
    results = train(*data, *FLAGS, "--output_dir", str(out), "--resume_from_checkpoint", "auto")
    assert results["train"]["epoch"] > 0 and (out / "checkpoint-4").is_dir()


def test_resuming_from_the_final_checkpoint_finishes_without_training(tmp_path, data):
    """Killed right after the last checkpoint: the resumed run used to train a step past --max_steps."""
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    results = train(*data, *FLAGS, "--output_dir", str(whole))
    train(*data, *FLAGS, "--output_dir", str(resumed))
    for name in (METRICS_FILE, "model.safetensors", "README.md"):
        (resumed / name).unlink()  # killed between the checkpoint and the final save
    again = train(*data, *FLAGS, "--output_dir", str(resumed), "--resume_from_checkpoint", "auto")
    assert not (resumed / "checkpoint-5").exists()
    expected, got = load_file(whole / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)
    assert again["train"]["train_loss"] == pytest.approx(results["train"]["train_loss"], abs=1e-3)
    assert again["train"]["global_step"] == 4 and again["train"]["resumed_finished_run"] is True


def test_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path, data):
    out = tmp_path / "run"
    flags = [
        *FLAGS,
        "--max_steps",
        "8",
        "--save_steps",
        "1",
        "--max_grad_norm",
        "0",
        "--warmup_steps",
        "0",
        "--lr_scheduler_type",
        "constant",
        "--learning_rate",
        "1e30",
        "--output_dir",
        str(out),
    ]
    with pytest.raises(
        ValueError,
        match=r"the training loss became (nan|inf) at step (\d+); the last good "
        r"checkpoint is .*checkpoint-\d+ .*--resume_from_checkpoint",
    ) as caught:
        train(*data, *flags)
    step = int(re.search(r"at step (\d+)", str(caught.value)).group(1))
    checkpoints = sorted(int(p.name.split("-")[1]) for p in out.iterdir() if p.name.startswith("checkpoint-"))
    assert checkpoints and checkpoints[-1] == step - 1  # nothing saved from the step whose loss was not finite
    last = load_file(out / f"checkpoint-{step - 1}" / "model.safetensors")
    assert all(torch.isfinite(tensor).all() for tensor in last.values())
    assert not (out / METRICS_FILE).exists() and not (out / "model.safetensors").exists()


def test_a_tokenizer_larger_than_the_model_is_refused_before_training(tmp_path, data):
    base = tmp_path / "base"
    train(*data, *FLAGS, "--save_strategy", "no", "--output_dir", str(base))
    texts = make_sentiment_rows(200, seed=1)["text"] + [f"word{i} other{i}" for i in range(400)]
    big = train_tokenizer(texts, vocab_size=900, show_progress=False)
    big.save_pretrained(tmp_path / "big-tokenizer")
    assert len(big) > 300
    flags = [f for f in FLAGS if f not in ("--preset", "tiny", "--vocab_size", "300")]
    with pytest.raises(
        ValueError,
        match=r"the tokenizer '.*big-tokenizer' has \d+ tokens but the model only \d+ "
        "embeddings.*--tokenizer_name",
    ):
        train(
            *data,
            *flags,
            "--model_name_or_path",
            str(base),
            "--tokenizer_name",
            str(tmp_path / "big-tokenizer"),
            "--output_dir",
            str(tmp_path / "run"),
        )
    assert not (tmp_path / "run" / "checkpoint-2").exists()


def test_max_train_minutes_stops_early_and_saves_the_model(tmp_path, data, monkeypatch):
    clock = iter(range(0, 10_000, 30))  # every look at the clock is 30 s later: the 1-minute budget ends at step 2
    monkeypatch.setattr(StopAfterMinutes, "clock", staticmethod(lambda: next(clock)))
    out = tmp_path / "run"
    results = train(
        *data, *FLAGS, "--max_steps", "50", "--save_steps", "10", "--max_train_minutes", "1", "--output_dir", str(out)
    )
    assert results["train"]["stopped_by_max_train_minutes_at_step"] == 2
    assert (out / "model.safetensors").exists() and (out / METRICS_FILE).exists()
    assert (out / "checkpoint-2").is_dir()  # the stop step is checkpointed (averaging and resume see it)
    with pytest.raises(ValueError, match=r"--max_train_minutes -1.0 must be a positive number"):
        parse_arguments(ClassificationTask, [*data, *FLAGS, "--max_train_minutes", "-1"])
