"""Why a cached decoding step on CPU attends through eager matmuls (`modeling_transfuse.choose_attention`).

In a cached decoding step every row has one query. PyTorch's fused CPU attention kernel
(`scaled_dot_product_attention`) is built for long queries. For a single query it is several times slower than
the two written-out products `softmax(q k^T / sqrt(d)) v`, and slower still in bf16. This script times both
attention paths of transfuse (`ATTENTION_FUNCTIONS["sdpa"]` and `["eager"]`) on the shapes of beam-4 decoding
with the Multi30k recipe: 128 sentences x 4 beams, 4 heads of 64, over 30 and 60 cached keys, fp32 and bf16, with
a padding bias as in cross-attention. It also checks that the two agree.

    python benchmarks/bench_decode_attention.py            # one thread, a few seconds
    python benchmarks/bench_decode_attention.py --threads 2 --rows 128
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, format_table, median  # noqa: E402
from transfuse.modeling.modeling_transfuse import ATTENTION_FUNCTIONS  # noqa: E402

PATHS = ("sdpa", "eager")


def time_ms(attend, inputs: tuple, repeats: int) -> float:
    attend(*inputs)  # warm-up
    times = []
    for _ in range(repeats):
        with Timer() as timer:
            attend(*inputs)
        times.append(timer.seconds * 1e3)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1).")
    parser.add_argument("--rows", type=int, default=512, help="Rows of the batch: sentences x beams (512).")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head_dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    torch.manual_seed(0)
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for keys in (30, 60):
            B, nh, hs = options.rows, options.heads, options.head_dim
            q = torch.randn(B, nh, 1, hs, dtype=dtype)  # (B, nh, 1, hs): one query per row
            k, v = torch.randn(B, nh, keys, hs, dtype=dtype), torch.randn(B, nh, keys, hs, dtype=dtype)
            bias = torch.zeros(B, 1, 1, keys, dtype=dtype)
            bias[: B // 2, ..., keys - 5 :] = torch.finfo(dtype).min  # half the rows padded
            inputs = (q, k, v, bias, False, 0.0, hs**-0.5)  # is_causal, dropout, scaling
            with torch.inference_mode():
                times = {name: time_ms(ATTENTION_FUNCTIONS[name], inputs, options.repeats) for name in PATHS}
                outputs = [ATTENTION_FUNCTIONS[name](*inputs)[0].float() for name in PATHS]
                gap = outputs[0] - outputs[1]
            rows.append([str(dtype).split(".")[1], keys, f"{times['sdpa']:.2f}", f"{times['eager']:.2f}",
                         f"{times['sdpa'] / times['eager']:.1f}x", f"{gap.abs().max().item():.1e}"])  # fmt: skip
    print(f"one query per row: {options.rows} rows x {options.heads} heads x {options.head_dim}, "
          f"{options.threads} thread(s), median of {options.repeats}")  # fmt: skip
    print(format_table(["dtype", "keys", "sdpa ms", "eager ms", "eager speed-up", "max |sdpa - eager|"], rows))


if __name__ == "__main__":
    main()
