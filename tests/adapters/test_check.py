"""The start-of-training check and the AdaLoRA budget callback, through a real `Trainer`."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from torch import nn
from transformers import Trainer, TrainingArguments

from transfuse.adapters import (
    AdapterArguments,
    AdapterCheckCallback,
    adapter_callbacks,
    apply_adapter,
    check_adapter,
    new_module_names,
)
from transfuse.adapters.callbacks import AdaLoraCallback

from .builders import VOCAB, load_task_model, sample_inputs, save_backbone


def _lora_model(tmp_path, **kwargs):
    model, info = load_task_model(save_backbone("transfuse-encoder", tmp_path), "seq-cls")
    return model, info, AdapterArguments(adapter="lora", **kwargs)


def test_check_passes_and_restores_the_model(tmp_path):
    model, info, args = _lora_model(tmp_path)
    model = apply_adapter(model, args, new_module_names(info, model))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    report = check_adapter(model, sample_inputs("seq-cls", model))
    assert report.ok and report.steps == 2, report.summary()  # LoRA's zero B makes A wait one step
    assert len(report.targeted_modules) == 12  # 2 layers x (q, k, v, o, fc1, fc2)
    assert 0 < report.trainable_percent < 100 and "trainable params" in report.summary()
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters()), "the check must leave no trace"


def test_check_finds_a_module_the_forward_never_calls(tmp_path):
    model, info, _ = _lora_model(tmp_path)
    model.unused_proj = nn.Linear(32, 32)  # targeted but never called
    args = AdapterArguments(adapter="lora", target_modules=["q_proj", "unused_proj"])
    model = apply_adapter(model, args, new_module_names(info, model))
    report = check_adapter(model, sample_inputs("seq-cls", model))
    assert report.uncalled_modules == ["base_model.model.unused_proj"]
    assert any("unused_proj" in n for n in report.unchanged_parameters)
    with pytest.raises(RuntimeError, match="--target_modules"):
        report.raise_for_problems()


def _dataset(n=32):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, VOCAB, (n, 8), generator=generator)
    return Dataset.from_dict({"input_ids": ids.tolist(), "labels": (ids[:, 1] % 3).tolist()})


def test_adalora_budget_is_allocated_during_training(tmp_path):
    model, info = load_task_model(save_backbone("transfuse-encoder", tmp_path), "seq-cls")
    args = AdapterArguments(
        adapter="adalora",
        adalora_total_step=8,
        adalora_init_r=6,
        adalora_target_r=2,
        adalora_tinit=1,
        adalora_tfinal=2,
        adalora_delta_t=1,
    )
    model = apply_adapter(model, args, new_module_names(info, model))
    callbacks = adapter_callbacks(args)
    assert [type(c) for c in callbacks] == [AdaLoraCallback, AdapterCheckCallback]
    training = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=8,
        per_device_train_batch_size=8,
        learning_rate=1e-2,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    Trainer(model=model, args=training, train_dataset=_dataset(), callbacks=callbacks).train()
    rank_pattern = model.peft_config["default"].rank_pattern
    assert rank_pattern, "update_and_allocate never ran"
    kept = sum(sum(mask) for mask in rank_pattern.values())
    assert kept < 6 * len(rank_pattern), "AdaLoRA pruned no rank"


def test_adalora_step_budget_mismatch_stops_before_training(tmp_path):
    model, info = load_task_model(save_backbone("transfuse-encoder", tmp_path), "seq-cls")
    args = AdapterArguments(adapter="adalora", adalora_total_step=50)
    model = apply_adapter(model, args, new_module_names(info, model))
    training = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=4,
        per_device_train_batch_size=8,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    with pytest.raises(ValueError, match="--adalora_total_step 4"):
        Trainer(model=model, args=training, train_dataset=_dataset(), callbacks=adapter_callbacks(args)).train()


def test_the_start_check_probes_two_rows_of_the_first_batch(tmp_path, monkeypatch):
    model, info, args = _lora_model(tmp_path)
    model = apply_adapter(model, args, new_module_names(info, model))
    seen = []
    monkeypatch.setattr(
        "transfuse.adapters.callbacks.check_adapter",
        lambda model, batch, max_steps: seen.append(batch) or check_adapter(model, batch, max_steps=max_steps),
    )
    batch = sample_inputs("seq-cls", model)
    first = {key: value.repeat(4, *[1] * (value.dim() - 1)) for key, value in batch.items()}  # 4x the rows
    state = type("State", (), {"global_step": 0})()
    AdapterCheckCallback().on_train_begin(None, state, None, model=model, train_dataloader=[first])
    assert [tuple(value.shape[:1]) for value in seen[0].values()] == [(2,)] * len(first)
