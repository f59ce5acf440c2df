"""`transfuse push RUN_DIR --repo_id NAME [--private] [--adapter_only] [--revision BRANCH]`: share a run on the Hub.

Parses `PushArguments` (flags, or a YAML/JSON file) and calls `transfuse.hub.push_run`; see that module for what
is uploaded. The Hub token comes from `HF_TOKEN` or `hf auth login`, never from the command line.
"""

from __future__ import annotations

from transformers import HfArgumentParser

from ..hub import PushArguments, push_run


def parse_push_arguments(argv: list[str]) -> PushArguments:
    """`RUN_DIR --repo_id NAME ...`; the run folder may also be given as `--run_dir`."""
    argv = list(argv)
    if argv and not argv[0].startswith("-"):
        argv = ["--run_dir", argv[0], *argv[1:]]
    parser = HfArgumentParser(
        PushArguments,
        prog="transfuse push",
        usage="transfuse push RUN_DIR --repo_id NAME [options]",
        description="Upload a transfuse run (model or adapter, code, tokenizer, card) to the Hugging Face Hub.",
    )
    (args,) = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    return args


def main(argv: list[str]) -> int:
    args = parse_push_arguments(argv)
    result = push_run(args)
    print(result if args.dry_run else f"pushed {args.run_dir} to {result}")
    return 0
