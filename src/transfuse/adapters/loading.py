"""Saving and loading a run folder that holds either a full model or an adapter.

An adapter folder holds what peft writes (`adapter_config.json`, `adapter_model.safetensors`), how it was trained
(`transfuse_adapter.json`, with the base it was trained on) and `base/` (`base_folder.py`: the task model's config
with its label names and head sizes, beside links to the base weights), so `load_for_inference`, transformers and
peft all rebuild the right head on the base before loading the adapter onto it. A model that generates also keeps
its training-time decoding defaults (`generation_config.json`: beams, lengths), in the run folder and in `base/`,
which peft alone does not save. A full-model folder loads with the Auto class matching its head.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import transformers
from peft import PeftConfig, PeftModel, TaskType
from torch import nn
from transformers import AutoConfig, AutoModel, GenerationConfig, PretrainedConfig

from .. import modeling as transfuse_modeling
from ..modeling.heads import HEADS
from .arguments import AdapterArguments
from .base_folder import (
    ADAPTER_CONFIG,
    BASE_FOLDER,
    RUN_ADAPTER_INFO,
    original_base,
    resolve_base,
    set_adapter_base,
    task_config_source,
    write_base_folder,
)
from .quantization import quantization_kwargs

GENERATION_CONFIG = "generation_config.json"
# the Auto class that rebuilds the head an adapter was trained on, from the task type in adapter_config.json
AUTO_CLASS_BY_TASK_TYPE = {TaskType(head.peft_task_type): head.auto_class for head in HEADS if head.peft_task_type}


def is_adapter_folder(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def model_class_for(config: PretrainedConfig, task_type: TaskType | str | None = None) -> Any:
    """The Auto class for a peft task type, else the concrete class named in `config.architectures`."""
    if task_type is not None:
        return AUTO_CLASS_BY_TASK_TYPE[TaskType(task_type)]
    for name in getattr(config, "architectures", None) or ():
        cls = getattr(transfuse_modeling, name, None) or getattr(transformers, name, None)
        if cls is not None:
            return cls
    return AutoModel


def task_config(path: Path, base: str, **kwargs: Any) -> PretrainedConfig:
    """The task model's config saved with the adapter (labels, head size), else the base's own config."""
    source = task_config_source(path) or base
    config = AutoConfig.from_pretrained(source, **kwargs)
    if hasattr(config, "quantization_config"):  # describes the training-time base, not the float checkpoint
        del config.quantization_config
    return config


def training_adapter_arguments(path: str | Path) -> AdapterArguments | None:
    """The `AdapterArguments` an adapter run was trained with (from `transfuse_adapter.json`), if recorded."""
    info_file = Path(path) / RUN_ADAPTER_INFO
    if not info_file.is_file():
        return None
    recorded = json.loads(info_file.read_text()).get("adapter_arguments")
    if not recorded:
        return None
    known = {f.name for f in fields(AdapterArguments)}
    return AdapterArguments(**{k: v for k, v in recorded.items() if k in known})


def load_base_for_adapter(
    path: str | Path, quantized: bool = True, base_model_name_or_path: str | None = None, **kwargs: Any
) -> tuple[nn.Module, PeftConfig]:
    """The task model an adapter folder was trained on (its head rebuilt from the saved config), without the adapter.

    With `quantized`, a base trained in 4/8 bit is loaded the same way, so logits match training.
    `base_model_name_or_path` loads the base weights from there instead of the base recorded in the run.
    """
    path = Path(path)
    peft_config = PeftConfig.from_pretrained(path)
    base = resolve_base(path, base_model_name_or_path)
    config = task_config(path, base)
    model_class = model_class_for(config, peft_config.task_type)
    trained_with = training_adapter_arguments(path)
    if quantized and trained_with is not None and "quantization_config" not in kwargs:
        kwargs.update(quantization_kwargs(trained_with, model_class, config))
    # a task that added tokens grew the embeddings: load the base at its own size, then grow it the same way
    # (the grown matrix itself is in the adapter, saved through `modules_to_save`)
    grown = getattr(config, "vocab_size", None)
    # (RUN/base/ holds the task config, already grown: the size comes from the base it links to)
    base_size = getattr(AutoConfig.from_pretrained(original_base(base)), "vocab_size", None) if grown else None
    if base_size is not None and base_size != grown:
        config.vocab_size = base_size
    model = model_class.from_pretrained(base, config=config, **kwargs)
    if base_size is not None and base_size != grown:
        model.resize_token_embeddings(grown)
    if (path / GENERATION_CONFIG).is_file() and getattr(model, "generation_config", None) is not None:
        model.generation_config = GenerationConfig.from_pretrained(path)  # the run's decoding defaults
    return model, peft_config


def load_for_inference(
    path: str | Path,
    is_trainable: bool = False,
    quantized: bool = True,
    base_model_name_or_path: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Load a run folder for prediction: a full model, or the base + adapter (a `PeftModel`) in eval mode.

    Args:
        path: run folder.
        is_trainable: keep the adapter trainable (to continue training) instead of eval mode.
        quantized: load a base trained in 4/8 bit quantized again (as trained; needs bitsandbytes); False loads
            it in float.
        base_model_name_or_path: an adapter run's base, when it is no longer where the run recorded it.
        kwargs: passed to the base model's `from_pretrained` (e.g. `dtype`).
    """
    path = Path(path)
    if not is_adapter_folder(path):
        config = AutoConfig.from_pretrained(path)
        model = model_class_for(config).from_pretrained(path, **kwargs)
        return model.eval()
    model, _ = load_base_for_adapter(
        path, quantized=quantized, base_model_name_or_path=base_model_name_or_path, **kwargs
    )
    model = PeftModel.from_pretrained(model, path, is_trainable=is_trainable)
    return model if is_trainable else model.eval()


def save_for_inference(model: nn.Module, output_dir: str | Path, adapter_args: AdapterArguments | None = None) -> None:
    """Write a run folder `load_for_inference` reads back: the model (or adapter) and the task model's config.

    For a `PeftModel` this adds `config.json` (labels and head shapes) and `transfuse_adapter.json` (method and
    quantization used in training) beside peft's files. Safe to call after `Trainer.save_model`.
    """
    model.save_pretrained(output_dir)
    if isinstance(model, PeftModel):
        write_task_files(model, output_dir, adapter_args)


def write_task_files(
    model: PeftModel,
    output_dir: str | Path,
    adapter_args: AdapterArguments | None = None,
    base_model: str | None = None,
) -> None:
    """The files an adapter folder needs beside peft's own: how it was trained and on which base
    (`transfuse_adapter.json`), and `base/` with the task config (see `base_folder.py`).

    `base_model` is the base to record (default: the one the model was loaded from, as an absolute path if local).
    """
    output_dir = Path(output_dir)
    task_model = model.get_base_model()
    config_dict = task_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict["architectures"] = [type(task_model).__name__]  # the head, not the checkpoint it was loaded from
    config = type(task_model.config).from_dict(config_dict)
    loaded_from = model.peft_config[model.active_adapter].base_model_name_or_path
    info: dict[str, Any] = {
        "adapters": sorted(model.peft_config),
        "base_model_name_or_path": base_model or original_base(loaded_from),
    }
    if adapter_args is not None:
        info["adapter_arguments"] = asdict(adapter_args)
    (output_dir / RUN_ADAPTER_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    folders = [output_dir]
    if write_base_folder(output_dir, loaded_from, config):
        (output_dir / "config.json").unlink(missing_ok=True)  # would make transformers take the folder for a model
        folders.append(output_dir / BASE_FOLDER)  # what transformers' and peft's loaders build the base from
    else:
        config.save_pretrained(output_dir)
        set_adapter_base(output_dir, info["base_model_name_or_path"])
    if task_model.can_generate() and getattr(task_model, "generation_config", None) is not None:
        for folder in folders:
            task_model.generation_config.save_pretrained(folder)


__all__ = [
    "is_adapter_folder",
    "load_base_for_adapter",
    "load_for_inference",
    "model_class_for",
    "save_for_inference",
    "training_adapter_arguments",
    "write_task_files",
]
