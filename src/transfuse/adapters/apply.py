"""`apply_adapter`: wrap a loaded task model in its peft adapter, with its new heads trained and saved.

The one call a training pipeline makes after loading the model: it prepares a quantized base for training
(`prepare_model_for_kbit_training`), builds the peft config from `AdapterArguments`, and puts the newly
initialised modules (see `heads.py`) into `modules_to_save` so the adapter folder alone reproduces the model.
"""

from __future__ import annotations

import logging

from peft import PeftModel, TaskType, get_peft_model, prepare_model_for_kbit_training
from torch import nn

from .arguments import AdapterArguments
from .heads import overmatched_modules
from .methods import build_peft_config

logger = logging.getLogger(__name__)


QUANTIZED_PARAMETER_CLASSES = ("Params4bit", "Int8Params")  # bitsandbytes' weight classes


def is_quantized(model: nn.Module) -> bool:
    """Whether any weight of `model` is stored by bitsandbytes (after `dequantize()`, none is)."""
    return any(type(p).__name__ in QUANTIZED_PARAMETER_CLASSES for p in model.parameters())


def apply_adapter(
    model: nn.Module,
    adapter_args: AdapterArguments,
    new_module_names: list[str] | None = None,
    task_type: TaskType | str | None = None,
    adapter_name: str = "default",
) -> nn.Module | PeftModel:
    """Return `model` wrapped by `adapter_args.adapter` (a `PeftModel`), or `model` itself for `--adapter none`.

    Args:
        model: a loaded transformers model (possibly quantized through `quantization_kwargs`).
        adapter_args: the parsed `AdapterArguments`.
        new_module_names: modules that `from_pretrained` initialised (`new_module_names(loading_info, model)`);
            they are trained in full and saved with the adapter.
        task_type: peft task type; by default inferred from the model's Auto class.
        adapter_name: name of the adapter inside the `PeftModel` (several can live in one model).
    """
    if not adapter_args.enabled:
        return model
    peft_config = build_peft_config(adapter_args, model, modules_to_save=new_module_names, task_type=task_type)
    if peft_config.modules_to_save:
        extra = overmatched_modules(model, peft_config.modules_to_save)
        if extra:
            logger.warning(
                "peft matches modules_to_save %s by name suffix, so %d more modules are trained in full and saved "
                "too (e.g. %s); the adapter is still correct, only larger.",
                peft_config.modules_to_save,
                len(extra),
                ", ".join(extra[:3]),
            )
    if is_quantized(model):
        # casts the float leftovers (norms, heads) to fp32 and makes the inputs require grad; checkpointing is
        # left to TrainingArguments.gradient_checkpointing
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return get_peft_model(model, peft_config, adapter_name=adapter_name)


__all__ = ["apply_adapter", "is_quantized"]
