"""Which precision training, evaluation and prediction run in: bfloat16 autocast where the hardware multiplies
bf16 natively, float32 elsewhere.

On a CPU with AMX tiles or AVX-512 BF16 instructions, oneDNN runs bf16 matrix products about 2-3x faster than
fp32 for encoder inference, and the predicted labels agree with fp32's (the benchmark reports the agreement);
on a CPU without them bf16 is emulated and slower, so fp32 stays. CUDA devices use bf16 where
`torch.cuda.is_bf16_supported()` says so.

Evaluation and prediction there also cast the weights to bf16 (the Trainer's `--bf16_full_eval`), not only the
matrix products: the autocast copies of every weight are made again for every batch (and every decoding step).
Measured against autocast alone (benchmarks/README.md, time to quality): the same scores or slightly better
(SRL span F1 0.7670 -> 0.7671, QA F1 72.47 -> 72.68, translation BLEU 40.95 -> 41.01), outputs identical on
99.3 / 99.1 / 92.4 % of the rows (beam search amplifies the last bit), SST-2 labels equal to fp32's on 99.95 %.
`--bf16_full_eval false` keeps fp32 weights under autocast; a 4/8-bit model keeps its quantized weights.

Training follows the same rule unless the user chose: `--bf16` / `--fp16` given on the command line or in the
config file win, and `--fp32` keeps training (and evaluation) in float32. The parser leaves `bf16` as None
when it was not given (`arguments.TRAINING_DEFAULTS`), and `resolve_training_precision` settles it when the
Trainer is built. bf16 autocast keeps fp32 master weights and optimizer state; `tests/training/
test_speed_defaults.py` checks that a tiny model's loss curve under it follows the fp32 one.
"""

from __future__ import annotations

import logging

import torch
from transformers import TrainingArguments

logger = logging.getLogger(__name__)


def cpu_has_bf16_matmul() -> bool:
    """True when this CPU has native bf16 matrix instructions (AMX or AVX-512 BF16) and oneDNN to use them."""
    if not torch.backends.mkldnn.is_available():
        return False
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private but stable since torch 2.3
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def bf16_inference_supported(device: torch.device | str) -> bool:
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_has_bf16_matmul()
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return False


def use_bf16_inference(device: torch.device | str, force_fp32: bool) -> bool:
    """The default of `transfuse evaluate/predict`: bf16 autocast where supported, unless `--fp32`."""
    return not force_fp32 and bf16_inference_supported(device)


def resolve_eval_weights(training: TrainingArguments, train: bool, bf16: bool, quantized: bool) -> None:
    """Settle `training.bf16_full_eval` when the user left it unset (None): bf16 weights for evaluate / predict
    where `bf16` (bf16 inference, the hardware's default without `--fp32`) and the model's weights can be cast
    (not 4/8-bit, no `--fp16_full_eval`); False for a training run, whose final evaluation would cast the model it
    is about to save."""
    if training.bf16_full_eval is None:
        training.bf16_full_eval = bool(not train and bf16 and not quantized and not training.fp16_full_eval)


def eval_precision_name(training: TrainingArguments, eval_bf16: bool) -> str:
    """How evaluation ran, as `metrics.json` records it: "bf16 weights", "bf16" (autocast) or "fp32"."""
    if eval_bf16 and training.bf16_full_eval:
        return "bf16 weights"
    return "bf16" if eval_bf16 else "fp32"


def resolve_training_precision(training: TrainingArguments, train: bool, bf16: bool) -> None:
    """Settle `training.bf16` when the user left it unset (None): bf16 autocast for a training run where `bf16`
    (the hardware has bf16 matrix units and `--fp32` was not given) and no other precision was chosen
    (`--fp16`, an accelerate config's `mixed_precision`, DeepSpeed's own); False otherwise, and always for
    evaluation and prediction alone (their precision is `eval_bf16`'s). accelerate then applies the autocast,
    exactly as for `--bf16`."""
    if training.bf16 is not None:
        return
    chosen_elsewhere = training.fp16 or training.mixed_precision != "no" or bool(training.deepspeed)
    training.bf16 = bool(train and bf16 and not chosen_elsewhere)
    if training.bf16:
        training.mixed_precision = "bf16"
        logger.info(
            "training in bf16 autocast (this %s multiplies bf16 natively; --fp32 to train in fp32)",
            training.device.type.upper(),
        )


__all__ = [
    "bf16_inference_supported",
    "cpu_has_bf16_matmul",
    "eval_precision_name",
    "resolve_eval_weights",
    "resolve_training_precision",
    "use_bf16_inference",
]
