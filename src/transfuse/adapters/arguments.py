"""`AdapterArguments`: which parameter-efficient method to train, and how to quantize the frozen base.

One dataclass for `HfArgumentParser` (flags, JSON or YAML), next to the model/data arguments and
`TrainingArguments`. Field names never collide with `TrainingArguments`. Every combination that cannot work is
refused in `__post_init__`, at parse time, with the flag to change; `methods.py` turns the fields into a peft
config and `quantization.py` into a `BitsAndBytesConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADAPTERS = ("none", "lora", "dora", "rslora", "ia3", "adalora", "loha", "lokr", "vera", "prefix", "prompt")
LORA_FAMILY = ("lora", "dora", "rslora")
PROMPT_LEARNING = ("prefix", "prompt")
QUANTIZATIONS = ("none", "4bit", "8bit")
QUANT_TYPES = ("nf4", "fp4")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
# peft ships bitsandbytes layers for these methods only (peft/tuners/<method>/bnb.py); LoHa, LoKr and VeRA
# would wrap a quantized layer as if it were a float one. Prompt learning leaves the linear layers alone.
QUANTIZABLE_ADAPTERS = (*LORA_FAMILY, "adalora", "ia3", *PROMPT_LEARNING)


def _choose(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"--{flag} {value!r} is not supported; choose one of: {', '.join(allowed)}.")


@dataclass
class AdapterArguments:
    """Parameter-efficient fine-tuning (peft) and quantization (bitsandbytes) options."""

    adapter: str = field(
        default="none",
        metadata={
            "help": f"Parameter-efficient method: {', '.join(ADAPTERS)}. `none` trains every weight.",
            "choices": list(ADAPTERS),
        },
    )
    lora_r: int = field(default=8, metadata={"help": "Rank of the update (lora, dora, rslora, loha, lokr)."})
    lora_alpha: float = field(
        default=16, metadata={"help": "Scale numerator: the update is scaled by alpha/r (alpha/sqrt(r) for rslora)."}
    )
    lora_dropout: float = field(
        default=0.0,
        metadata={
            "help": "Dropout on the adapter input (lora family, adalora); 0 as in peft, which also "
            "saves the dropped copy of every adapted input in training memory."
        },
    )
    target_modules: list[str] | None = field(
        default=None,
        metadata={
            "help": "Module names (suffixes) the adapter wraps, or `all-linear`. Default: the right names "
            "for the architecture (transfuse, BERT, GPT-2, BART, T5, Llama, ... families)."
        },
    )
    modules_to_save: list[str] | None = field(
        default=None,
        metadata={
            "help": "Extra modules trained in full and saved with the adapter. Newly initialised task heads "
            "are added automatically (from what `from_pretrained` reports as missing)."
        },
    )
    ia3_feedforward_modules: list[str] | None = field(
        default=None,
        metadata={
            "help": "IA3: which of --target_modules are feed-forward layers (scaled on their input rather "
            "than their output). Default: by architecture."
        },
    )
    adalora_init_r: int = field(default=12, metadata={"help": "AdaLoRA: initial rank of every update."})
    adalora_target_r: int = field(default=8, metadata={"help": "AdaLoRA: average rank after budget allocation."})
    adalora_tinit: int = field(default=0, metadata={"help": "AdaLoRA: warm-up steps before ranks are pruned."})
    adalora_tfinal: int = field(default=0, metadata={"help": "AdaLoRA: final steps with the ranks frozen."})
    adalora_delta_t: int = field(default=1, metadata={"help": "AdaLoRA: steps between two budget allocations."})
    adalora_total_step: int | None = field(
        default=None,
        metadata={
            "help": "AdaLoRA: total optimizer steps of the run (its rank budget schedule); required for "
            "--adapter adalora. Use the same value as --max_steps."
        },
    )
    vera_r: int = field(default=256, metadata={"help": "VeRA: rank of the shared frozen random projections."})
    num_virtual_tokens: int = field(default=20, metadata={"help": "prefix / prompt: number of virtual tokens."})
    prefix_projection: bool = field(
        default=False, metadata={"help": "prefix: re-parameterise the prefix through a two-layer MLP."}
    )
    quantization: str = field(
        default="none",
        metadata={
            "help": "Load the frozen base in 4-bit (QLoRA) or 8-bit with bitsandbytes; task heads and the "
            "output layer always stay in float.",
            "choices": list(QUANTIZATIONS),
        },
    )
    bnb_4bit_quant_type: str = field(
        default="nf4", metadata={"help": "4-bit data type: nf4 (QLoRA) or fp4.", "choices": list(QUANT_TYPES)}
    )
    bnb_4bit_use_double_quant: bool = field(
        default=True, metadata={"help": "4-bit: also quantize the quantization constants (saves ~0.4 bit/param)."}
    )
    bnb_4bit_compute_dtype: str = field(
        default="float32",
        metadata={
            "help": "dtype of the matmuls of 4-bit layers (bfloat16 is faster on CPUs/GPUs that have it).",
            "choices": list(COMPUTE_DTYPES),
        },
    )
    llm_int8_skip_modules: list[str] | None = field(
        default=None,
        metadata={
            "help": "Extra modules kept in float when quantizing. Task heads and the output layer are "
            "always kept in float, whatever this list holds."
        },
    )
    llm_int8_threshold: float = field(
        default=6.0, metadata={"help": "8-bit: outlier threshold above which activations use a float matmul."}
    )
    check_adapter: bool = field(
        default=True,
        metadata={
            "help": "At training start, verify every targeted module runs in the forward pass and one "
            "optimizer step changes every adapter parameter (see `transfuse adapters check`)."
        },
    )

    def __post_init__(self) -> None:
        _choose("adapter", self.adapter, ADAPTERS)
        _choose("quantization", self.quantization, QUANTIZATIONS)
        _choose("bnb_4bit_quant_type", self.bnb_4bit_quant_type, QUANT_TYPES)
        _choose("bnb_4bit_compute_dtype", self.bnb_4bit_compute_dtype, COMPUTE_DTYPES)
        positive = ("lora_r", "adalora_init_r", "adalora_target_r", "adalora_delta_t", "vera_r", "num_virtual_tokens")
        for flag in positive:
            value = getattr(self, flag)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"--{flag} {value!r} must be a positive integer.")
        if self.lora_alpha <= 0:
            raise ValueError(f"--lora_alpha {self.lora_alpha!r} must be positive.")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"--lora_dropout {self.lora_dropout!r} must be in [0, 1).")
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        self._check_combinations()

    def _check_combinations(self) -> None:
        if self.quantization != "none":
            if self.adapter == "none":
                raise ValueError(
                    f"--quantization {self.quantization} freezes the base in low precision, so it needs an adapter "
                    "to train; add e.g. --adapter lora (QLoRA), or drop --quantization for full fine-tuning."
                )
            if self.adapter not in QUANTIZABLE_ADAPTERS:
                raise ValueError(
                    f"--adapter {self.adapter} has no bitsandbytes layers in peft, so it cannot wrap a "
                    f"--quantization {self.quantization} base; use one of {', '.join(QUANTIZABLE_ADAPTERS)}, "
                    "or --quantization none."
                )
        if self.adapter in PROMPT_LEARNING and self.target_modules:
            raise ValueError(
                f"--adapter {self.adapter} learns virtual tokens and wraps no module; drop --target_modules "
                f"{' '.join(self.target_modules)} (or pick a module-wrapping adapter such as lora)."
            )
        if self.adapter == "adalora":
            total = self.adalora_total_step
            if total is None or total <= 0:
                raise ValueError(
                    "--adapter adalora allocates its rank budget over a fixed number of steps; set "
                    "--adalora_total_step to the run's optimizer steps (e.g. the value of --max_steps)."
                )
            if self.adalora_tinit >= total - self.adalora_tfinal:
                raise ValueError(
                    f"AdaLoRA leaves no budgeting phase: --adalora_tinit {self.adalora_tinit} >= --adalora_total_step "
                    f"{total} - --adalora_tfinal {self.adalora_tfinal}; lower tinit/tfinal or raise total_step."
                )
            if self.adalora_target_r > self.adalora_init_r:
                raise ValueError(
                    f"--adalora_target_r {self.adalora_target_r} exceeds --adalora_init_r {self.adalora_init_r}: "
                    "AdaLoRA only prunes ranks; raise init_r or lower target_r."
                )

    @property
    def enabled(self) -> bool:
        return self.adapter != "none"

    @property
    def is_prompt_learning(self) -> bool:
        return self.adapter in PROMPT_LEARNING


__all__ = ["ADAPTERS", "AdapterArguments", "LORA_FAMILY", "PROMPT_LEARNING", "QUANTIZATIONS"]
