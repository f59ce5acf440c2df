"""`transfuse pretrain [CONFIG.yaml] --architecture ARCH --train_files F... --output_dir RUN`: pretraining.

ARCH is encoder, decoder or encoder-decoder.

Pretrains a model from raw text with the objective of its architecture and writes a run folder that
`AutoTokenizer`, the `AutoModelFor*` classes, every task (`--model_name_or_path RUN`) and `transfuse generate`
load. Options: `transfuse pretrain --help`; the pipeline: `transfuse.pretraining.run`. Bad arguments and bad
input (files, text, tokenizer/model mismatch, occupied output folder) print one line and exit 2 (the boundary in
`transfuse.cli.errors`); Ctrl-C prints the last checkpoint and the command that resumes from it.
"""

from __future__ import annotations

import shlex
from typing import Any

from .errors import on_interrupt, resume_hint
from .task_command import format_metrics


def summary(results: dict[str, Any]) -> str:
    train = results["train"]
    lines = [
        f"pretrain ({results['objective']}): {train.get('train_runtime', 0):.0f} s, "
        f"loss {train.get('train_loss', float('nan')):.4f}, {train['train_tokens_per_second']:.0f} tokens/s"
    ]
    if "eval" in results:
        lines += ["eval:", format_metrics({k: results["eval"][k] for k in ("loss", "perplexity")})]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from ..lazy_imports import defer_optional_imports

    defer_optional_imports()  # bitsandbytes only if a 4-bit model asks for it (lazy_imports.py)
    from ..distributed import is_main_process
    from ..pretraining import parse_pretraining_arguments, run_pretraining
    from ..pretraining.arguments import build_parser

    if "-h" in argv or "--help" in argv:
        build_parser().print_help()
        return 0
    run = parse_pretraining_arguments(argv)
    words = ["transfuse", "pretrain", *argv]
    on_interrupt(lambda: resume_hint(run.training.output_dir, words))
    results = run_pretraining(run.model, run.pretraining, run.corpus, run.training, command=shlex.join(words))
    if is_main_process():  # under `accelerate launch` every rank gets here; one summary is enough
        print(summary(results))
    return 0
