"""From `AdapterArguments` to a peft config: one builder per method, default target modules per architecture.

Hub families (BERT, GPT-2, BART, T5, Llama, ...) reuse peft's own `TRANSFORMERS_MODELS_TO_*_TARGET_MODULES_MAPPING`
tables; `model_type="transfuse"` gets its own defaults below, written against the module names of
`modeling_transfuse.py`. Everything else about each method (its layers, merging, saving) stays in peft.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from peft import (
    AdaLoraConfig,
    IA3Config,
    LoHaConfig,
    LoKrConfig,
    LoraConfig,
    PeftConfig,
    PrefixTuningConfig,
    PromptTuningConfig,
    TaskType,
    VeraConfig,
)
from peft.tuners.tuners_utils import check_target_module_exists
from peft.utils.constants import (
    TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_LOHA_TARGET_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_LOKR_TARGET_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING,
    TRANSFORMERS_MODELS_TO_VERA_TARGET_MODULES_MAPPING,
)
from torch import nn
from transformers import PretrainedConfig
from transformers.pytorch_utils import Conv1D

from ..modeling.heads import FEATURE_EXTRACTION, HEADS
from .arguments import AdapterArguments

TRANSFUSE_ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
TRANSFUSE_FEED_FORWARD = ["fc1", "fc2"]
# Every linear layer of the transfuse blocks (self- and cross-attention share the names). IA3 follows its paper:
# rescale keys, values and the feed-forward input of the second projection.
TRANSFUSE_TARGET_MODULES: dict[str, list[str]] = {
    "lora": TRANSFUSE_ATTENTION + TRANSFUSE_FEED_FORWARD,
    "adalora": TRANSFUSE_ATTENTION + TRANSFUSE_FEED_FORWARD,
    "loha": TRANSFUSE_ATTENTION + TRANSFUSE_FEED_FORWARD,
    "lokr": TRANSFUSE_ATTENTION + TRANSFUSE_FEED_FORWARD,
    "vera": TRANSFUSE_ATTENTION + TRANSFUSE_FEED_FORWARD,
    "ia3": ["k_proj", "v_proj", "fc2"],
}
TRANSFUSE_IA3_FEEDFORWARD = ["fc2"]

PEFT_TARGET_MODULES: dict[str, dict[str, list[str]]] = {
    "lora": TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING,
    "adalora": TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING,
    "loha": TRANSFORMERS_MODELS_TO_LOHA_TARGET_MODULES_MAPPING,
    "lokr": TRANSFORMERS_MODELS_TO_LOKR_TARGET_MODULES_MAPPING,
    "vera": TRANSFORMERS_MODELS_TO_VERA_TARGET_MODULES_MAPPING,
    "ia3": TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING,
}

# Which peft task type (and so which PeftModelFor* wrapper) a head gets, found through the Auto classes of the
# heads table. A backbone gets a plain PeftModel (peft's own default), not a feature-extraction wrapper.
TASK_TYPES_BY_AUTO_CLASS = tuple(
    (head.auto_class, TaskType(head.peft_task_type))
    for head in HEADS
    if head.peft_task_type not in (None, FEATURE_EXTRACTION)
)
GENERATION_TASKS = (TaskType.CAUSAL_LM, TaskType.SEQ_2_SEQ_LM)


def _family(method: str) -> str:
    """dora and rslora are LoRA variants: same layers, same default targets."""
    return "lora" if method in ("lora", "dora", "rslora") else method


def default_target_modules(model_type: str, method: str) -> list[str]:
    """The modules `method` wraps by default in a model of `model_type` (transfuse or a peft-known HF family)."""
    family = _family(method)
    if model_type == "transfuse":
        return list(TRANSFUSE_TARGET_MODULES[family])
    mapping = PEFT_TARGET_MODULES[family]
    if model_type not in mapping:
        raise ValueError(
            f"No default --target_modules for --adapter {method} on model_type {model_type!r} (known: transfuse, "
            f"{', '.join(sorted(mapping)[:12])}, ...); pass --target_modules with the names of its linear layers, "
            "e.g. --target_modules q_proj v_proj, or --target_modules all-linear."
        )
    return list(mapping[model_type])


def default_feedforward_modules(model_type: str, target_modules: list[str] | str) -> list[str] | str:
    """IA3's feed-forward subset of `target_modules` (scaled on the input instead of the output)."""
    if model_type == "transfuse":
        defaults = TRANSFUSE_IA3_FEEDFORWARD
    else:
        defaults = TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING.get(model_type, [])
    if isinstance(target_modules, str):  # "all-linear" / a regex: let peft decide which ones are feed-forward
        return list(defaults)
    return [m for m in defaults if m in target_modules]


def infer_task_type(model: nn.Module) -> TaskType | None:
    """The peft task type of a transformers head, from the Auto class that maps its config to its class.

    None (a plain `PeftModel`) for backbones and heads peft has no wrapper for (e.g. masked LM).
    """
    config = getattr(model, "config", None)
    for auto_class, task_type in TASK_TYPES_BY_AUTO_CLASS:
        try:
            head_class = auto_class._model_mapping[type(config)]
        except (KeyError, TypeError):
            continue
        if isinstance(head_class, (tuple, list)):
            if any(isinstance(model, c) for c in head_class):
                return task_type
        elif isinstance(model, head_class):
            return task_type
    return None


def _accepts_past_key_values(model: nn.Module) -> bool:
    """peft's own test for prefix tuning: the head, or else its backbone, must take `past_key_values`."""
    backbone = getattr(model, getattr(model, "base_model_prefix", ""), None)
    models = [m for m in (model, backbone) if m is not None]
    return any("past_key_values" in inspect.signature(m.forward).parameters for m in models)


def check_task_support(args: AdapterArguments, task_type: TaskType | str | None) -> None:
    """Refuse the method/task pairs that peft accepts but that cannot work; needs only the task, so a pipeline
    can call it right after parsing.

    Each rule was measured with peft 0.21 and transformers 5 (see tests/adapters/test_refusals.py).
    """
    task_type = TaskType(task_type) if task_type is not None else None
    method, task = args.adapter, task_type.value if task_type is not None else "feature extraction"
    if method == "prefix" and task_type in GENERATION_TASKS:
        raise ValueError(
            f"--adapter prefix cannot be used for generation ({task}): with transformers 5, peft's generate() ignores "
            "or misplaces the prefix (BART generates as if untuned; GPT-2's generate() diverges from the trained "
            "forward pass), so the trained model could not be served. Use --adapter lora."
        )
    if method == "prompt" and task_type == TaskType.CAUSAL_LM:
        raise ValueError(
            "--adapter prompt cannot be used for causal-LM generation: with transformers 5, peft's generate() drops "
            "the virtual tokens after the first generated token, so outputs diverge from the trained model. Use "
            "--adapter lora (prompt tuning works for classification and seq2seq)."
        )
    if method == "prompt" and task_type in (TaskType.TOKEN_CLS, TaskType.QUESTION_ANS):
        raise ValueError(
            f"--adapter prompt prepends {args.num_virtual_tokens} virtual tokens, which shifts every per-token output "
            f"of a {task} model against its labels/answer positions. Use --adapter lora."
        )


def check_method_for_task(args: AdapterArguments, task_type: TaskType | None, model: nn.Module) -> None:
    """`check_task_support`, plus the rules that depend on the model itself."""
    if args.adapter == "prefix" and getattr(model.config, "model_type", None) == "transfuse":
        raise ValueError(
            "--adapter prefix: peft 0.21 hands the learned keys/values over as `past_key_values`, but transfuse "
            "models take transformers 5's `cache=` argument, so the prefix would be silently dropped. Use "
            "--adapter prompt (virtual input tokens) or a module adapter such as --adapter lora."
        )
    check_task_support(args, task_type)
    if args.adapter == "prefix" and not _accepts_past_key_values(model):
        raise ValueError(
            f"--adapter prefix: peft 0.21 needs a forward argument named `past_key_values`, which transformers 5 "
            f"renamed to `cache` in {type(model).__name__} and its backbone, so peft would fail. Use --adapter "
            "prompt or --adapter lora."
        )


def _matching_modules(model: nn.Module, peft_config: PeftConfig) -> list[tuple[str, nn.Module]]:
    if isinstance(peft_config.target_modules, str) and peft_config.target_modules == "all-linear":
        return []
    return [
        (name, module)
        for name, module in model.named_modules()
        if name and check_target_module_exists(peft_config, name)
    ]


def check_target_layers(args: AdapterArguments, model: nn.Module, peft_config: PeftConfig) -> None:
    """LoHa and LoKr (LyCORIS) wrap `nn.Linear`/`nn.Conv*` only; GPT-2 style `Conv1D` layers are refused early."""
    if args.adapter not in ("loha", "lokr"):
        return
    conv1d = [name for name, module in _matching_modules(model, peft_config) if isinstance(module, Conv1D)]
    if conv1d:
        raise ValueError(
            f"--adapter {args.adapter} cannot wrap transformers `Conv1D` layers ({', '.join(conv1d[:3])}, ...; "
            "GPT-2 style fused projections). Use --adapter lora/dora/ia3/vera, which support them."
        )


def _lora(args: AdapterArguments, common: dict) -> PeftConfig:
    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        use_dora=args.adapter == "dora",
        use_rslora=args.adapter == "rslora",
        **common,
    )


def _adalora(args: AdapterArguments, common: dict) -> PeftConfig:
    return AdaLoraConfig(
        init_r=args.adalora_init_r,
        target_r=args.adalora_target_r,
        tinit=args.adalora_tinit,
        tfinal=args.adalora_tfinal,
        deltaT=args.adalora_delta_t,
        total_step=args.adalora_total_step,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        **common,
    )


def _loha(args: AdapterArguments, common: dict) -> PeftConfig:
    return LoHaConfig(r=args.lora_r, alpha=args.lora_alpha, **common)


def _lokr(args: AdapterArguments, common: dict) -> PeftConfig:
    return LoKrConfig(r=args.lora_r, alpha=args.lora_alpha, **common)


def _vera(args: AdapterArguments, common: dict) -> PeftConfig:
    # save_projection: the frozen random projections travel with the adapter, so it reloads bit-exactly
    return VeraConfig(r=args.vera_r, save_projection=True, **common)


def _ia3(args: AdapterArguments, common: dict, model_type: str) -> PeftConfig:
    feedforward = args.ia3_feedforward_modules
    if feedforward is None:
        feedforward = default_feedforward_modules(model_type, common["target_modules"])
    return IA3Config(feedforward_modules=feedforward, **common)


BUILDERS: dict[str, Callable[[AdapterArguments, dict], PeftConfig]] = {
    "lora": _lora,
    "dora": _lora,
    "rslora": _lora,
    "adalora": _adalora,
    "loha": _loha,
    "lokr": _lokr,
    "vera": _vera,
}


def _layers_model_type(config: PretrainedConfig | None) -> str | None:
    """The model type whose layer names the default targets follow: a composite model's encoder (the predicate
    tagger over BERT, an `EncoderDecoderModel`), else the model's own."""
    encoder = getattr(config, "encoder", None)
    return getattr(encoder if isinstance(encoder, PretrainedConfig) else config, "model_type", None)


def build_peft_config(
    args: AdapterArguments,
    model: nn.Module,
    modules_to_save: list[str] | None = None,
    task_type: TaskType | str | None = None,
) -> PeftConfig:
    """The peft config of `args.adapter` for `model`, with `modules_to_save` trained in full and saved."""
    if not args.enabled:
        raise ValueError("--adapter none trains the model itself; there is no peft config to build.")
    task_type = TaskType(task_type) if task_type is not None else infer_task_type(model)
    check_method_for_task(args, task_type, model)
    modules_to_save = sorted(set(modules_to_save or []) | set(args.modules_to_save or [])) or None
    if args.is_prompt_learning:
        prompt_config = PrefixTuningConfig if args.adapter == "prefix" else PromptTuningConfig
        extra = {"prefix_projection": args.prefix_projection} if args.adapter == "prefix" else {}
        return prompt_config(
            num_virtual_tokens=args.num_virtual_tokens, task_type=task_type, modules_to_save=modules_to_save, **extra
        )
    model_type = _layers_model_type(getattr(model, "config", None))
    target_modules = args.target_modules or default_target_modules(model_type, args.adapter)
    if target_modules == ["all-linear"]:
        target_modules = "all-linear"
    common = dict(target_modules=target_modules, modules_to_save=modules_to_save, task_type=task_type)
    if args.adapter == "ia3":
        peft_config = _ia3(args, common, model_type)
    else:
        peft_config = BUILDERS[args.adapter](args, common)
    check_target_layers(args, model, peft_config)
    return peft_config


__all__ = [
    "TRANSFUSE_TARGET_MODULES",
    "build_peft_config",
    "check_method_for_task",
    "check_task_support",
    "check_target_layers",
    "default_target_modules",
    "infer_task_type",
]
