"""Atomic checkpoints, in process: a save that fails half-way leaves no `checkpoint-N` behind, `auto` resume
skips half-written folders, and resuming from the last complete checkpoint reproduces an uninterrupted run."""

from __future__ import annotations

import json

import pytest
import torch
from datasets import Dataset
from transformers import Trainer, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

import transfuse
from transfuse.common.checkpointing import (
    PARTIAL_DIR,
    AtomicCheckpointMixin,
    is_complete_checkpoint,
    last_complete_checkpoint,
)


class AtomicTrainer(AtomicCheckpointMixin, Trainer):
    pass


class KilledWhileSaving(RuntimeError):
    pass


def _dataset() -> Dataset:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 60, (32, 8), generator=generator)
    return Dataset.from_dict({"input_ids": ids.tolist(), "labels": (ids[:, 0] % 2).tolist()})


def _trainer(trainer_class, output_dir, **overrides) -> Trainer:
    torch.manual_seed(0)
    model = transfuse.TransfuseForSequenceClassification(transfuse.get_preset("tiny", "encoder", vocab_size=64))
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=4,
        save_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        report_to="none",
        use_cpu=True,
        seed=0,
        logging_steps=1,
        disable_tqdm=True,
        **overrides,
    )
    return trainer_class(model=model, args=args, train_dataset=_dataset())


def _fail_in_second_save(monkeypatch):
    """The RNG state is written after the weights and the optimizer: fail there, in the save of step 4."""
    original = Trainer._save_rng_state

    def save_rng_state(self, output_dir):
        if self.state.global_step == 4:
            raise KilledWhileSaving(output_dir)
        original(self, output_dir)

    monkeypatch.setattr(Trainer, "_save_rng_state", save_rng_state)


def test_complete_saves_are_published(tmp_path):
    _trainer(AtomicTrainer, tmp_path, save_total_limit=1).train()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("checkpoint")) == ["checkpoint-4"]
    assert not (tmp_path / PARTIAL_DIR).exists()
    assert is_complete_checkpoint(tmp_path / "checkpoint-4")


def test_a_save_cut_short_leaves_no_checkpoint_behind(tmp_path, monkeypatch):
    _fail_in_second_save(monkeypatch)
    with pytest.raises(KilledWhileSaving):
        _trainer(AtomicTrainer, tmp_path / "atomic").train()
    assert (tmp_path / "atomic" / "checkpoint-2").is_dir()
    assert not (tmp_path / "atomic" / "checkpoint-4").exists()
    assert (tmp_path / "atomic" / PARTIAL_DIR / "checkpoint-4" / "model.safetensors").is_file()
    assert get_last_checkpoint(str(tmp_path / "atomic")).endswith("checkpoint-2")  # even plain transformers

    # the stock Trainer, same failure: a checkpoint-4 that looks like the latest but has no state
    with pytest.raises(KilledWhileSaving):
        _trainer(Trainer, tmp_path / "stock").train()
    assert get_last_checkpoint(str(tmp_path / "stock")).endswith("checkpoint-4")
    assert not is_complete_checkpoint(tmp_path / "stock" / "checkpoint-4")
    assert last_complete_checkpoint(tmp_path / "stock").endswith("checkpoint-2")


def test_resume_after_a_failed_save_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    reference = _trainer(AtomicTrainer, tmp_path / "reference")
    reference.train()
    with monkeypatch.context() as patch:
        _fail_in_second_save(patch)
        with pytest.raises(KilledWhileSaving):
            _trainer(AtomicTrainer, tmp_path / "resumed").train()
    resumed = _trainer(AtomicTrainer, tmp_path / "resumed")
    resumed.train(resume_from_checkpoint=last_complete_checkpoint(tmp_path / "resumed"))
    for (name, expected), actual in zip(reference.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, msg=name)
    assert not (tmp_path / "resumed" / PARTIAL_DIR).exists()  # the next save cleared the half-written one


def test_truncated_state_is_incomplete(tmp_path):
    checkpoint = tmp_path / "checkpoint-6"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text('{"global_step": 6, "log_hist')
    assert not is_complete_checkpoint(checkpoint)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 6}))
    assert is_complete_checkpoint(checkpoint)
    assert last_complete_checkpoint(tmp_path) == str(checkpoint)
    assert last_complete_checkpoint(tmp_path / "missing") is None
