"""--average_checkpoints: the arithmetic, the checkpoint files, and the callback inside a real Trainer run."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from safetensors.torch import save_file
from transformers import AutoModelForSeq2SeqLM, Seq2SeqTrainer, Seq2SeqTrainingArguments

from transfuse.tasks.translation.averaging import (
    AverageCheckpointsCallback,
    average_checkpoints,
    average_state_dicts,
    checkpoint_folders,
)

from .conftest import make_task, reversal_pairs, tiny_config


def test_average_of_two_known_state_dicts():
    first = {"w": torch.tensor([1.0, 2.0]), "h": torch.tensor([1.0], dtype=torch.bfloat16), "n": torch.tensor(3)}
    second = {"w": torch.tensor([3.0, 6.0]), "h": torch.tensor([2.0], dtype=torch.bfloat16), "n": torch.tensor(5)}
    mean = average_state_dicts([first, second])
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0]))
    assert mean["h"].dtype == torch.bfloat16 and mean["h"].item() == 1.5
    assert mean["n"].item() == 5  # integer buffers are not averaged: the last one is kept
    with pytest.raises(ValueError, match="other weights"):
        average_state_dicts([first, {"w": first["w"]}])
    with pytest.raises(ValueError, match="changes shape"):
        average_state_dicts([first, {**second, "w": torch.zeros(3)}])


def test_checkpoint_files_are_read_in_step_order(tmp_path):
    for step, value in ((10, 1.0), (9, 5.0), (100, 3.0)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        save_file({"w": torch.full((2,), value)}, str(folder / "model.safetensors"))
    (tmp_path / "checkpoint-7").mkdir()  # no weights: not a checkpoint to average
    folders = checkpoint_folders(tmp_path)
    assert [folder.name for folder in folders] == ["checkpoint-9", "checkpoint-10", "checkpoint-100"]
    assert torch.equal(average_checkpoints(folders[-2:])["w"], torch.full((2,), 2.0))


def test_callback_leaves_the_mean_of_the_last_checkpoints_in_the_saved_model(tmp_path, tiny_tokenizer):
    task = make_task()
    sources, targets = reversal_pairs(16)
    model = AutoModelForSeq2SeqLM.from_config(tiny_config(tiny_tokenizer))
    task.attach(tiny_tokenizer, model.config)
    features = task.preprocess(Dataset.from_dict({"src": sources, "tgt": targets}), tiny_tokenizer, "train")
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path),
        max_steps=6,
        save_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        report_to=[],
        logging_steps=100,
        use_cpu=True,
    )
    callback = AverageCheckpointsCallback(2)
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=features,
        callbacks=[callback],
        data_collator=task.data_collator(tiny_tokenizer, model),
    )
    trainer.train()
    assert [folder.name for folder in callback.averaged] == ["checkpoint-4", "checkpoint-6"]
    expected = average_checkpoints(callback.averaged)
    trainer.save_model()
    saved = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    for name, value in saved.state_dict().items():
        if name in expected:
            torch.testing.assert_close(value, expected[name])
    final = average_checkpoints([tmp_path / "checkpoint-6"])
    assert any(not torch.equal(expected[name], final[name]) for name in expected)  # not just the last weights
