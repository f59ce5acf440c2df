"""The `transfuse` command: one sub-command per module, dispatched through `COMMANDS`.

Each entry maps a sub-command to the `module:function` that runs it. The function receives the remaining
command-line arguments (a list of strings) and returns an exit code. Modules are imported only when their
command runs, so `transfuse --help` stays fast and a broken optional dependency only affects its command.
"""

from __future__ import annotations

import importlib
import sys

from ..allocator import apply_for_command

COMMANDS: dict[str, tuple[str, str]] = {
    # name: ("module:function", one-line help)
    "train": ("transfuse.cli.train:main", "fine-tune a model: transfuse train <task> [CONFIG.yaml] [--flags]"),
    "evaluate": ("transfuse.cli.evaluate:main", "score a trained model on validation data"),
    "predict": ("transfuse.cli.predict:main", "predict a file, one JSON line per input row"),
    "demo": ("transfuse.cli.demo:main", "train, evaluate and use a small classifier on built-in data, offline"),
    "push": ("transfuse.cli.push:main", "upload a run (weights, code, tokenizer, card) to the Hugging Face Hub"),
    "tokenizer": ("transfuse.cli.tokenizer:main", "train a tokenizer on raw text: transfuse tokenizer train ..."),
    "pretrain": ("transfuse.cli.pretrain:main", "pretrain an encoder, decoder or encoder-decoder on raw text"),
    "generate": ("transfuse.cli.generate:main", "generate text from prompts with a decoder or encoder-decoder"),
    "merge": (
        "transfuse.cli.merge:main", "fold an adapter run into its base: transfuse merge RUN_DIR --output_dir DIR"
    ),
    "adapters": ("transfuse.cli.adapters:main", "adapter tools: transfuse adapters check|methods"),
}


def _usage() -> str:
    width = max((len(name) for name in COMMANDS), default=8)
    lines = ["usage: transfuse <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in sorted(COMMANDS.items())]
    lines += ["", "Run `transfuse <command> --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the `transfuse` process itself: glibc malloc settings for model commands (allocator.py)
        apply_for_command(sys.argv[1] if len(sys.argv) > 1 else None)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"transfuse: unknown command {name!r}; choose one of: {', '.join(sorted(COMMANDS))}", file=sys.stderr)
        return 2
    target, _ = COMMANDS[name]
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return int(function(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
