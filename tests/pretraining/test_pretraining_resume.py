"""Resuming mid-epoch continues at the data position of an uninterrupted run: nothing repeated or skipped.

The Trainer restores the optimizer, scheduler and RNG state from the checkpoint and skips the batches the
checkpoint already consumed; with packed blocks and the seeded sampler that must give exactly the blocks an
uninterrupted run sees next. The collator is wrapped to record every batch it builds.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from transfuse.pretraining import OBJECTIVES, parse_pretraining_arguments, run_pretraining

from .helpers import pretrain_argv


class Recorder:
    def __init__(self, collator):
        self.collator = collator
        self.blocks: list[list[list[int]]] = []
        self.batches: list[dict[str, torch.Tensor]] = []

    def __call__(self, features):
        self.blocks.append([list(f["input_ids"]) for f in features])
        batch = self.collator(features)
        self.batches.append({key: value.clone() for key, value in batch.items()})
        return batch


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorders = []

    def recording_builder(tokenizer, args):
        recorders.append(Recorder(objective.build_collator(tokenizer, args)))
        return recorders[-1]

    objective = OBJECTIVES["encoder"]
    monkeypatch.setitem(OBJECTIVES, "encoder", dataclasses.replace(objective, build_collator=recording_builder))
    parsed = parse_pretraining_arguments(argv[1:])  # argv[0] is the `pretrain` command
    run_pretraining(parsed.model, parsed.pretraining, parsed.corpus, parsed.training)
    monkeypatch.setitem(OBJECTIVES, "encoder", objective)
    return recorders[0]


def test_resume_mid_epoch_sees_the_same_batches(tokenizer_dir, corpus, tmp_path, monkeypatch) -> None:
    output_dir = tmp_path / "run"
    common = [
        "--max_steps",
        "6",
        "--save_strategy",
        "steps",
        "--save_steps",
        "3",
        "--logging_steps",
        "1",
        "--per_device_train_batch_size",
        "4",
    ]
    uninterrupted = run(
        pretrain_argv("encoder", tokenizer_dir, corpus["train"], corpus["validation"], output_dir, *common),
        monkeypatch,
    )
    assert json.loads((output_dir / "metrics.json").read_text())["train"]["epoch"] < 0.5  # step 3 is mid-epoch

    checkpoint = output_dir / "checkpoint-3"
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    shutil.copytree(checkpoint, interrupted / "checkpoint-3")  # as if the run had been killed after step 3
    resumed = run(
        pretrain_argv(
            "encoder",
            tokenizer_dir,
            corpus["train"],
            corpus["validation"],
            interrupted,
            *common,
            "--resume_from_checkpoint",
            "auto",
        ),
        monkeypatch,
    )

    # the resumed run builds batches 4..6 (then the validation ones) from the uninterrupted run's blocks
    assert resumed.blocks[:3] == uninterrupted.blocks[3:6]
    # masks are redrawn: the Trainer restores the RNG only after fetching the first resumed batch, so the
    # draws are new (same distribution); what is predicted is still the block's own token
    for blocks, batch in zip(resumed.blocks[:3], resumed.batches[:3]):
        selected = batch["labels"] != -100
        assert torch.equal(batch["labels"][selected], torch.tensor(blocks)[selected])
    assert Path(interrupted / "checkpoint-6").is_dir()
