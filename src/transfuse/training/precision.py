"""Which precision evaluation and prediction run in: bfloat16 autocast where the hardware multiplies bf16
natively.

On a CPU with AMX tiles or AVX-512 BF16 instructions, oneDNN runs bf16 matrix products about 2-3x faster than
fp32 for encoder inference, and the predicted labels agree with fp32's (the benchmark reports the agreement);
on a CPU without them bf16 is emulated and slower, so fp32 stays. CUDA devices use bf16 where
`torch.cuda.is_bf16_supported()` says so. Training precision is the user's choice (`--bf16`), never decided
here.
"""

from __future__ import annotations

import torch


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


__all__ = ["bf16_inference_supported", "cpu_has_bf16_matmul", "use_bf16_inference"]
