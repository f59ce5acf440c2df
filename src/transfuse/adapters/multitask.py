"""One frozen base, many named task adapters, each with its own head: `MultiTaskModel`.

Every task is a peft model over a task model (its head class and label set) whose backbone module is the *same*
object for all tasks, so the base weights are held once. peft keeps one set of adapter weights per task name in
each wrapped layer; `set_task(name)` activates that task's adapter in the shared layers and routes `forward` to
that task's head. Each task folder inside a saved multi-task folder is an ordinary adapter run folder, so a task
can also be loaded alone with `load_for_inference(folder / name)`, and gives the same outputs.

    model = MultiTaskModel.from_task_runs({"sentiment": "runs/sst2-lora", "topic": "runs/trec-lora"})
    model.set_task("sentiment"); logits = model(**batch).logits
    model.save_pretrained("serving/multi")   # serving/multi/{multitask.json, sentiment/, topic/}
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from peft import PeftConfig, PeftModel
from torch import nn

from .base_folder import recorded_base, resolve_base
from .loading import (
    load_base_for_adapter,
    model_class_for,
    task_config,
    training_adapter_arguments,
    write_task_files,
)

MULTITASK_FILE = "multitask.json"
# A task name is an adapter name inside peft's layers (a module key: no dots) and a folder of the saved model.
TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def check_task_name(name: object, source: str = "task name") -> str:
    """Refuse a task name that is not a plain folder name (`../x`, `a/b`, `a.b`, empty), before it becomes a path."""
    if not isinstance(name, str) or not TASK_NAME.fullmatch(name):
        raise ValueError(
            f"{source} {name!r} is not a plain folder name; use letters, digits, `_` and `-` (e.g. 'sentiment')."
        )
    return name


def _backbone_signature(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in module.named_parameters()}


def _backbone_size(run_dir: str | Path) -> int:
    """Parameters in the backbone of a run's task model, counted on a meta-device skeleton (no weights read)."""
    peft_config = PeftConfig.from_pretrained(run_dir)
    config = task_config(Path(run_dir), resolve_base(run_dir))
    with torch.device("meta"):
        skeleton = model_class_for(config, peft_config.task_type).from_config(config)
    return sum(p.numel() for p in getattr(skeleton, skeleton.base_model_prefix).parameters())


class MultiTaskModel(nn.Module):
    """Task models sharing one backbone; `set_task` switches adapter and head together."""

    def __init__(
        self,
        tasks: dict[str, PeftModel],
        base_model_name_or_path: str,
        training_arguments: dict[str, Any] | None = None,
        backbone_shapes: dict[str, tuple[int, ...]] | None = None,
    ):
        super().__init__()
        if not tasks:
            raise ValueError("MultiTaskModel needs at least one task.")
        for name in tasks:
            check_task_name(name)
        self.tasks = nn.ModuleDict(tasks)
        self.base_model_name_or_path = base_model_name_or_path
        self.training_arguments = training_arguments or {}
        self.backbone_shapes = backbone_shapes  # parameter shapes of the plain backbone, to vet added tasks
        self.active_task = ""
        self.set_task(next(iter(tasks)))

    @property
    def task_names(self) -> list[str]:
        return list(self.tasks)

    @property
    def backbone(self) -> nn.Module:
        model = self.tasks[self.active_task].get_base_model()
        return getattr(model, model.base_model_prefix)

    @property
    def config(self):
        return self.tasks[self.active_task].get_base_model().config

    def set_task(self, name: str) -> MultiTaskModel:
        if name not in self.tasks:
            raise KeyError(f"Unknown task {name!r}; this model serves: {', '.join(self.tasks)}.")
        self.tasks[name].set_adapter(name)  # activates `name` in every shared adapter layer
        self.active_task = name
        return self

    def forward(self, *args, **kwargs):
        return self.tasks[self.active_task](*args, **kwargs)

    def add_task(self, name: str, run_dir: str | Path, **load_kwargs: Any) -> MultiTaskModel:
        """Attach the adapter + head of a single-task run folder, sharing this model's backbone."""
        check_task_name(name)
        if name in self.tasks:
            raise ValueError(f"Task {name!r} already exists; pick another name or remove it first.")
        if recorded_base(run_dir) != self.base_model_name_or_path:
            raise ValueError(
                f"Task {name!r} was trained on {recorded_base(run_dir)!r}, but this model's base is "
                f"{self.base_model_name_or_path!r}; every task must share one base."
            )
        task_model, peft_config = load_base_for_adapter(run_dir, **load_kwargs)
        first = next(iter(self.tasks.values()))
        if peft_config.peft_type != first.active_peft_config.peft_type:
            raise ValueError(
                f"Task {name!r} uses {peft_config.peft_type.value} but the other tasks use "
                f"{first.active_peft_config.peft_type.value}; peft can stack several adapters of one method in the "
                "same layers, so train every task with the same --adapter."
            )
        self._share_backbone(name, task_model)
        self.tasks[name] = PeftModel.from_pretrained(task_model, run_dir, adapter_name=name)
        trained_with = training_adapter_arguments(run_dir)
        if trained_with is not None:
            self.training_arguments[name] = trained_with
        self.set_task(self.active_task)  # loading made `name` active in the shared layers
        return self

    def _share_backbone(self, name: str, task_model: nn.Module) -> None:
        prefix = task_model.base_model_prefix
        own = getattr(task_model, prefix)
        if self.backbone_shapes is not None and not _backbone_signature(own).items() <= self.backbone_shapes.items():
            raise ValueError(
                f"Task {name!r} needs backbone weights the shared {type(own).__name__} does not have; heads that "
                "need another backbone shape (e.g. a seq2seq decoder next to an encoder-only head) cannot share it."
            )
        setattr(task_model, prefix, self.backbone)  # drops the duplicate base weights
        if hasattr(task_model, "tie_weights"):
            task_model.tie_weights()  # an LM head tied to the input embeddings follows the shared table

    @classmethod
    def from_task_runs(cls, runs: dict[str, str | Path], **load_kwargs: Any) -> MultiTaskModel:
        """Combine single-task adapter run folders (trained on the same base) into one model.

        The task whose head uses the largest backbone (e.g. BERT with its pooler, next to a token tagger without
        one) is loaded first, so its backbone can serve every other task; the first task given stays the default.
        """
        for name in runs:
            check_task_name(name)
        default_task = next(iter(runs))
        (first_name, first_run), *others = sorted(runs.items(), key=lambda item: -_backbone_size(item[1]))
        task_model, peft_config = load_base_for_adapter(first_run, **load_kwargs)
        shapes = _backbone_signature(getattr(task_model, task_model.base_model_prefix))
        first = PeftModel.from_pretrained(task_model, first_run, adapter_name=first_name)
        trained_with = training_adapter_arguments(first_run)
        model = cls(
            {first_name: first},
            recorded_base(first_run),
            {first_name: trained_with} if trained_with is not None else {},
            shapes,
        )
        for name, run in others:
            model.add_task(name, run, **load_kwargs)
        model.tasks = nn.ModuleDict({name: model.tasks[name] for name in runs})  # the caller's order
        return model.set_task(default_task)

    @classmethod
    def from_pretrained(cls, path: str | Path, **load_kwargs: Any) -> MultiTaskModel:
        path = Path(path)
        manifest_file = path / MULTITASK_FILE
        if not manifest_file.is_file():
            raise FileNotFoundError(
                f"{manifest_file} not found: not a folder written by MultiTaskModel.save_pretrained."
            )
        manifest = json.loads(manifest_file.read_text())
        for name in manifest.get("tasks", []):
            check_task_name(name, f"{manifest_file}: task")
        model = cls.from_task_runs({name: path / name for name in manifest["tasks"]}, **load_kwargs)
        return model.set_task(manifest.get("default_task", model.task_names[0]))

    def save_pretrained(self, path: str | Path) -> None:
        """One folder: `multitask.json` plus one ordinary adapter run folder per task."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name, task in self.tasks.items():
            task.save_pretrained(path, selected_adapters=[name])  # peft writes non-default adapters to path/name
            write_task_files(task, path / name, self.training_arguments.get(name), self.base_model_name_or_path)
        manifest = {
            "base_model_name_or_path": self.base_model_name_or_path,
            "tasks": self.task_names,
            "default_task": self.active_task,
        }
        (path / MULTITASK_FILE).write_text(json.dumps(manifest, indent=2) + "\n")


__all__ = ["MULTITASK_FILE", "MultiTaskModel", "check_task_name"]
