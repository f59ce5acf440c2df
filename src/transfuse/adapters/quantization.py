"""QLoRA plumbing: a `BitsAndBytesConfig` from `AdapterArguments` that never quantizes task heads.

transformers keeps the output embedding in float by default, but drops that default as soon as the user passes
their own `llm_int8_skip_modules`, and it knows nothing about classification/QA heads. Here the skip list is
always the union of the user's list, the output layer, and every head outside the backbone, found from a
meta-device skeleton of the model (no weights are read). bitsandbytes is imported only behind
`require_bitsandbytes`, which says what to do when it cannot run.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, BitsAndBytesConfig, PretrainedConfig
from transformers.pytorch_utils import Conv1D

from ..distributed import per_process_device_map
from .arguments import AdapterArguments

logger = logging.getLogger(__name__)


def require_bitsandbytes(quantization: str) -> None:
    """Raise a RuntimeError that names the fix when bitsandbytes is missing or has no backend here."""
    fix = (
        "install it with `pip install -U 'bitsandbytes>=0.45'` (CPU, CUDA, XPU and Apple builds are on PyPI), "
        "or train without --quantization (e.g. --adapter lora with a float base)."
    )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise RuntimeError(
            f"--quantization {quantization} needs the bitsandbytes package, which is not installed; {fix}"
        )
    try:
        from transformers.integrations import validate_bnb_backend_availability

        validate_bnb_backend_availability(raise_exception=True)
    except Exception as error:  # bitsandbytes raises several types when its native library fails to load
        raise RuntimeError(
            f"--quantization {quantization}: bitsandbytes is installed but cannot run on this machine ({error}); {fix}"
        ) from error


def _exact(module_name: str) -> str:
    """A skip pattern that matches `module_name` and its children only.

    transformers tests each pattern as a regex from the start of the name *or* as a plain suffix, so a bare
    `dense` would also keep every BERT `attention.output.dense` in float; a regex group never ends a name.
    """
    return f"(?:{re.escape(module_name)})"


def _cpu_4bit_unsupported(skeleton: nn.Module) -> list[str]:
    """Linear layers bitsandbytes' CPU 4-bit inference kernel cannot pack (it needs in_features % 64 == 0 and
    out_features % 32 == 0, and fails with a reshape error otherwise): they stay in float."""
    names = []
    for name, module in skeleton.named_modules():
        if isinstance(module, nn.Linear) and (module.in_features % 64 or module.out_features % 32):
            names.append(name)
        elif isinstance(module, Conv1D) and (module.weight.shape[0] % 64 or module.nf % 32):
            names.append(name)
    return names


def float_module_names(auto_class: Any, config: PretrainedConfig, cpu_4bit: bool = False) -> list[str]:
    """Modules of the task model to keep in float: everything outside the backbone, plus the output layer (and,
    with `cpu_4bit`, layers whose shapes the CPU 4-bit kernel cannot take)."""
    with torch.device("meta"):
        skeleton = auto_class.from_config(config)
    names = {name for name, _ in skeleton.named_children() if name != skeleton.base_model_prefix}
    if skeleton.base_model_prefix not in dict(skeleton.named_children()):
        names = set()  # e.g. T5: backbone parts sit at the top level; its head is the output layer below
    output = skeleton.get_output_embeddings() if hasattr(skeleton, "get_output_embeddings") else None
    if output is not None:
        names |= {name for name, module in skeleton.named_modules() if module is output}
    # only modules that own weights matter (dropouts and activations hold none)
    names = {name for name in names if any(True for _ in skeleton.get_submodule(name).parameters())}
    if cpu_4bit:
        odd_shapes = [
            n
            for n in _cpu_4bit_unsupported(skeleton)
            if n not in names and not any(n.startswith(k + ".") for k in names)
        ]
        if odd_shapes:
            logger.warning(
                "Keeping %d linear layers in float (e.g. %s): bitsandbytes' CPU 4-bit kernel needs "
                "in_features %% 64 == 0 and out_features %% 32 == 0.",
                len(odd_shapes),
                odd_shapes[0],
            )
        names |= set(odd_shapes)
    return sorted(names)


def bnb_config(args: AdapterArguments, keep_in_float: list[str] | tuple[str, ...] = ()) -> BitsAndBytesConfig | None:
    """The `BitsAndBytesConfig` for `--quantization`, keeping `keep_in_float` and the user's skip list in float."""
    if args.quantization == "none":
        return None
    skip = sorted({_exact(name) for name in keep_in_float} | set(args.llm_int8_skip_modules or ()))
    if args.quantization == "8bit":
        return BitsAndBytesConfig(
            load_in_8bit=True, llm_int8_skip_modules=skip, llm_int8_threshold=args.llm_int8_threshold
        )
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=args.bnb_4bit_quant_type,
        bnb_4bit_use_double_quant=args.bnb_4bit_use_double_quant,
        bnb_4bit_compute_dtype=getattr(torch, args.bnb_4bit_compute_dtype),
        llm_int8_skip_modules=skip,
    )


def quantization_kwargs(
    args: AdapterArguments, auto_class: Any, config_or_path: PretrainedConfig | str, **config_kwargs: Any
) -> dict[str, Any]:
    """Extra `from_pretrained` keyword arguments for `--quantization` (`{}` without it).

    `model = auto_class.from_pretrained(path, **quantization_kwargs(args, auto_class, path, num_labels=2))`
    loads the base in 4/8 bit with every task head and the output layer in float. `config_kwargs` are the
    config overrides the real load will use (e.g. `num_labels`), so the head shapes match.
    """
    if args.quantization == "none":
        return {}
    require_bitsandbytes(args.quantization)
    config = config_or_path
    if not isinstance(config, PretrainedConfig):
        config = AutoConfig.from_pretrained(config_or_path, **config_kwargs)
    on_cpu = not torch.cuda.is_available()
    keep_in_float = float_module_names(auto_class, config, cpu_4bit=on_cpu and args.quantization == "4bit")
    kwargs: dict[str, Any] = {"quantization_config": bnb_config(args, keep_in_float)}
    # the whole model on this process's device ("cpu", or {"": local_rank} so each DDP rank holds its own
    # replica); never "auto", which would spread one model over every GPU of the machine
    kwargs["device_map"] = per_process_device_map()
    return kwargs


__all__ = ["bnb_config", "float_module_names", "quantization_kwargs", "require_bitsandbytes"]
