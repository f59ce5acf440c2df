"""`transfuse generate --model_name_or_path RUN --prompt TEXT` (or `--prompt_file`): prompts in, text out.

Greedy by default; `--do_sample` with `--temperature/--top_k/--top_p`, `--num_beams`, `--repetition_penalty`,
`--max_new_tokens`; tokens stream to the terminal as they are produced unless beam search or several sequences
per prompt are asked for. Works with a decoder or encoder-decoder run folder of `transfuse pretrain` and with
any local or Hub `AutoModelForCausalLM` / `AutoModelForSeq2SeqLM`. Options: `transfuse generate --help`.
"""

from __future__ import annotations

import os
import sys

from transformers import HfArgumentParser


def main(argv: list[str]) -> int:
    from ..generation import GenerationArguments, run_generation
    from .task_command import configure_logging

    parser = HfArgumentParser(GenerationArguments, prog="transfuse generate")
    if "-h" in argv or "--help" in argv:
        parser.print_help()
        return 0
    configure_logging()
    show_traceback = os.environ.get("TRANSFUSE_TRACEBACK") == "1"
    try:
        (args,) = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    except ValueError as err:
        if show_traceback:
            raise
        print(f"transfuse generate: error: {err}", file=sys.stderr)
        return 2
    try:
        run_generation(args)
    except (ValueError, FileNotFoundError, OSError) as err:
        if show_traceback:
            raise
        print(f"transfuse generate: error: {err}", file=sys.stderr)
        return 1
    return 0
