"""`transfuse adapters check|methods`: inspect adapters without training.

- `check --model_name_or_path PATH [--task seq-cls] [--adapter lora ...]`: wraps a model in the adapter given by
  the flags (or loads an adapter run folder as trainable) and verifies, on a seeded synthetic batch, that every
  adapter layer runs in the forward pass and that a few optimizer steps move every trainable parameter; prints the
  trainable parameter count and percentage. Exit code 1 when the check fails (2 for a bad argument or file, as
  for every command).
- `methods [--model_name_or_path PATH]`: every `--adapter` value with the modules it wraps by default for that
  model (or for transfuse).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from transformers import AutoConfig, HfArgumentParser

from ..adapters import (
    ADAPTERS,
    AdapterArguments,
    apply_adapter,
    check_adapter,
    default_target_modules,
    is_adapter_folder,
    load_for_inference,
    new_module_names,
    quantization_kwargs,
)
from ..adapters.arguments import PROMPT_LEARNING
from ..adapters.check import synthetic_batch
from ..adapters.loading import AUTO_CLASS_BY_TASK_TYPE
from ..adapters.methods import TASK_TYPES_BY_AUTO_CLASS
from ..modeling.heads import head_for

# --task: the short names of the heads that get a peft task model (seq-cls, token-cls, qa, seq2seq-lm, causal-lm)
TASKS = {head_for(auto_class).name: task_type.value for auto_class, task_type in TASK_TYPES_BY_AUTO_CLASS}
USAGE = """usage: transfuse adapters check --model_name_or_path PATH [--task seq-cls] [--adapter lora ...]
       transfuse adapters methods [--model_name_or_path PATH]"""


@dataclass
class CheckArguments:
    """The model to check, its head, and the probe batch."""

    model_name_or_path: str = field(metadata={"help": "Model folder or Hub id, or an adapter run folder."})
    task: str = field(default="seq-cls", metadata={"help": "Head to load a plain model with.", "choices": list(TASKS)})
    num_labels: int = field(default=2, metadata={"help": "Labels of a new classification head."})
    batch_size: int = field(default=4, metadata={"help": "Rows of the synthetic probe batch."})
    seq_length: int = field(default=32, metadata={"help": "Tokens per probe row."})
    probe_steps: int = field(default=3, metadata={"help": "Most optimizer steps to wait for every parameter to move."})


@dataclass
class MethodsArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Model whose defaults to list (default: transfuse)."}
    )


def _load(args: CheckArguments, adapter_args: AdapterArguments):
    if is_adapter_folder(args.model_name_or_path):
        return load_for_inference(args.model_name_or_path, is_trainable=True)
    if not adapter_args.enabled:
        raise ValueError(
            "Pass --adapter METHOD (e.g. --adapter lora) to check a plain model, or an adapter run "
            "folder as --model_name_or_path."
        )
    auto_class = AUTO_CLASS_BY_TASK_TYPE[TASKS[args.task]]
    extra = {"num_labels": args.num_labels} if args.task in ("seq-cls", "token-cls") else {}
    config = AutoConfig.from_pretrained(args.model_name_or_path, **extra)
    model, info = auto_class.from_pretrained(
        args.model_name_or_path,
        config=config,
        output_loading_info=True,
        **quantization_kwargs(adapter_args, auto_class, config),
    )
    return apply_adapter(model, adapter_args, new_module_names(info, model), task_type=TASKS[args.task])


def check(argv: list[str]) -> int:
    parser = HfArgumentParser((CheckArguments, AdapterArguments), prog="transfuse adapters check")
    args, adapter_args = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    model = _load(args, adapter_args)
    batch = synthetic_batch(model, batch_size=args.batch_size, length=args.seq_length)
    report = check_adapter(model, batch, max_steps=args.probe_steps)
    print(report.summary())
    return 0 if report.ok else 1


def methods(argv: list[str]) -> int:
    parser = HfArgumentParser(MethodsArguments, prog="transfuse adapters methods")
    (args,) = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    model_type = "transfuse"
    if args.model_name_or_path:
        model_type = AutoConfig.from_pretrained(args.model_name_or_path).model_type
    print(f"--adapter values and the modules they wrap by default for model_type {model_type!r}:")
    for method in ADAPTERS:
        if method == "none":
            targets = "(trains every weight)"
        elif method in PROMPT_LEARNING:
            targets = "(learns virtual tokens; wraps no module)"
        else:
            try:
                targets = " ".join(default_target_modules(model_type, method))
            except ValueError:
                targets = "(no default: pass --target_modules)"
        print(f"  {method:<8} {targets}")
    return 0


SUBCOMMANDS = {"check": check, "methods": methods}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SUBCOMMANDS:
        print(USAGE, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return SUBCOMMANDS[argv[0]](argv[1:])
