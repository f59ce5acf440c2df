"""Checkpoint averaging: the final model is the mean of the weights of the last N checkpoints.

Averaging the last few checkpoints of a Transformer MT run is a known, free gain of about half a BLEU point
(Vaswani et al. 2017 averaged the last 5 or 20; fairseq ships `scripts/average_checkpoints.py`), which no
`transformers` example does. `average_state_dicts` is the arithmetic (floating-point tensors are averaged in
float64 and cast back; integer buffers must agree and are kept); `average_checkpoints` reads the safetensors
weights of checkpoint folders; `AverageCheckpointsCallback` runs it when training ends, loading the mean into the
model in place, so the Trainer's `save_model` then writes it as an ordinary model (and the final evaluation
scores it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors")


def average_state_dicts(state_dicts: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts with the same keys and shapes."""
    if not state_dicts:
        raise ValueError("average_state_dicts needs at least one state dict")
    keys = list(state_dicts[0])
    for index, state in enumerate(state_dicts[1:], start=1):
        if set(state) != set(keys):
            difference = sorted(set(state) ^ set(keys))[:3]
            raise ValueError(f"state dict {index} has other weights than state dict 0 (e.g. {difference})")
    averaged = {}
    for key in keys:
        tensors = [state[key] for state in state_dicts]
        if any(tensor.shape != tensors[0].shape for tensor in tensors):
            raise ValueError(f"weight {key!r} changes shape between the checkpoints: {[t.shape for t in tensors]}")
        if tensors[0].is_floating_point():
            total = torch.stack([tensor.to(torch.float64) for tensor in tensors]).mean(dim=0)
            averaged[key] = total.to(tensors[0].dtype)
        else:
            averaged[key] = tensors[-1].clone()
    return averaged


def checkpoint_folders(output_dir: str | Path) -> list[Path]:
    """`checkpoint-N` folders of `output_dir` holding weights, oldest first (by N, not by name)."""
    folders = []
    for folder in Path(output_dir).glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        step = folder.name.rsplit("-", 1)[-1]
        if step.isdigit() and any((folder / name).is_file() for name in WEIGHT_FILES):
            folders.append((int(step), folder))
    return [folder for _, folder in sorted(folders)]


def average_checkpoints(folders: Sequence[str | Path]) -> dict[str, torch.Tensor]:
    """The mean of the safetensors weights saved in `folders` (full models or adapters, not a mix)."""
    states = []
    for folder in map(Path, folders):
        files = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
        if not files:
            raise FileNotFoundError(f"{folder} holds no {' or '.join(WEIGHT_FILES)} to average")
        states.append(load_file(str(files[0])))
    return average_state_dicts(states)


class AverageCheckpointsCallback(TrainerCallback):
    """When training ends, replace the model's weights by the mean of the last `count` checkpoints' weights."""

    def __init__(self, count: int):
        if count < 2:
            raise ValueError(f"--average_checkpoints {count}: averaging needs 2 or more checkpoints")
        self.count = count
        self.averaged: list[Path] = []

    def on_train_end(self, args, state, control, model=None, **kwargs):
        # every rank reads the same files and loads the same mean, so DDP replicas stay identical
        folders = checkpoint_folders(args.output_dir)[-self.count :]
        if len(folders) < self.count:
            logger.warning(
                "--average_checkpoints %d: only %d checkpoint(s) in %s; averaging those (save more often with "
                "--save_steps)",
                self.count,
                len(folders),
                args.output_dir,
            )
        if len(folders) < 2:
            return control
        averaged = average_checkpoints(folders)
        load_averaged(model, averaged, folders)
        self.averaged = folders
        logger.info("Averaged the weights of %s", ", ".join(folder.name for folder in folders))
        return control


def load_averaged(model: torch.nn.Module, averaged: Mapping[str, torch.Tensor], sources: Sequence[Path]) -> None:
    """Copy `averaged` into `model` in place. Keys the model lacks are refused, and so are weights the
    checkpoints lack, except tied ones (the output projection shares the embedding's storage)."""
    if hasattr(model, "peft_config"):  # an adapter checkpoint holds the adapter (and saved head) weights only
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, dict(averaged))
        return
    result = model.load_state_dict(dict(averaged), strict=False)
    current = model.state_dict()
    loaded = {current[key].data_ptr() for key in averaged if key in current}
    untied_missing = [key for key in result.missing_keys if current[key].data_ptr() not in loaded]
    if result.unexpected_keys or untied_missing:
        raise ValueError(
            f"the checkpoints {[folder.name for folder in sources]} do not match the model: weights the model "
            f"lacks {result.unexpected_keys[:3]}, weights the checkpoints lack {untied_missing[:3]}"
        )


__all__ = [
    "AverageCheckpointsCallback",
    "average_checkpoints",
    "average_state_dicts",
    "checkpoint_folders",
    "load_averaged",
]
