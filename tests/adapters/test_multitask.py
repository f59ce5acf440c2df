"""One base, many named task adapters each with its own head: switching gives each task model's own outputs."""

from __future__ import annotations

import json

import pytest
import torch

from transfuse.adapters import (
    AdapterArguments,
    MultiTaskModel,
    apply_adapter,
    load_for_inference,
    new_module_names,
    save_for_inference,
)

from .builders import HEADS, sample_inputs, save_backbone

# name -> (head, number of labels, adapter rank): different label sets, head classes and ranks
TASKS = {"sentiment": ("seq-cls", 2, 8), "topic": ("seq-cls", 5, 4), "tagging": ("token-cls", 4, 8)}


def _train_task_run(base_path, head, num_labels, rank, run_dir, seed):
    auto_class, _ = HEADS[head]
    torch.manual_seed(seed)
    model, info = auto_class.from_pretrained(base_path, num_labels=num_labels, output_loading_info=True)
    args = AdapterArguments(adapter="lora", lora_r=rank)
    model = apply_adapter(model, args, new_module_names(info, model))
    inputs = sample_inputs(head, model, seed=seed)
    inputs["labels"] = inputs["labels"] % num_labels
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(**inputs).loss.backward()
        optimizer.step()
    save_for_inference(model, run_dir, args)
    return run_dir


@pytest.mark.parametrize("backbone", ["transfuse-encoder", "bert"])
def test_switching_tasks_matches_each_task_alone(backbone, tmp_path):
    base = save_backbone(backbone, tmp_path)
    runs = {
        name: _train_task_run(base, head, n, r, tmp_path / name, seed)
        for seed, (name, (head, n, r)) in enumerate(TASKS.items())
    }
    inputs = {k: v for k, v in sample_inputs("seq-cls", None, seed=7).items() if k != "labels"}
    with torch.no_grad():
        alone = {name: load_for_inference(run)(**inputs).logits for name, run in runs.items()}

    model = MultiTaskModel.from_task_runs(runs).eval()
    assert model.active_task == "sentiment" and model.task_names == list(TASKS)
    backbones = {id(task.get_base_model().base_model) for task in model.tasks.values()}
    assert len(backbones) == 1, "the base weights must be held once"
    with torch.no_grad():
        for name in ["topic", "sentiment", "tagging", "topic", "sentiment"]:
            torch.testing.assert_close(model.set_task(name)(**inputs).logits, alone[name], rtol=0, atol=0)

    model.set_task("topic").save_pretrained(tmp_path / "multi")
    manifest = json.loads((tmp_path / "multi" / "multitask.json").read_text())
    assert manifest["tasks"] == list(TASKS) and manifest["default_task"] == "topic"
    reloaded = MultiTaskModel.from_pretrained(tmp_path / "multi").eval()
    assert reloaded.active_task == "topic"
    with torch.no_grad():
        for name in ["tagging", "sentiment", "topic"]:
            torch.testing.assert_close(reloaded.set_task(name)(**inputs).logits, alone[name], rtol=0, atol=0)
            # every task folder is an ordinary adapter run folder
            torch.testing.assert_close(load_for_inference(tmp_path / "multi" / name)(**inputs).logits, alone[name])


def test_tasks_must_share_base_and_method(tmp_path):
    base = save_backbone("transfuse-encoder", tmp_path)
    first = _train_task_run(base, "seq-cls", 2, 8, tmp_path / "first", 0)
    model = MultiTaskModel.from_task_runs({"first": first})
    with pytest.raises(KeyError, match="first"):
        model.set_task("missing")
    other_base = save_backbone("bert", tmp_path)
    with pytest.raises(ValueError, match="share one base"):
        model.add_task("bert", _train_task_run(other_base, "seq-cls", 2, 8, tmp_path / "bert-run", 1))
