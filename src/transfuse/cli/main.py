"""The `transfuse` command: one sub-command per module, dispatched through `COMMANDS`.

Each entry maps a sub-command to the `module:function` that runs it. The function receives the remaining
command-line arguments (a list of strings), returns an exit code, and raises on errors: every command runs inside
the one error boundary, `errors.run_command` (a user error is one line on stderr and exit code 2; Ctrl-C exits
130; `TRANSFUSE_TRACEBACK=1` shows the traceback). Modules are imported only when their command runs, so
`transfuse --help`, `--version` and `tasks` stay fast and a broken optional dependency only affects its command.

`command_main(name)` is the body of a launch script for a command that is not a task (`scripts/run_pretraining.py`).
"""

from __future__ import annotations

import importlib
import sys

from ..allocator import apply_for_command
from .console import configure_console
from .errors import run_command

COMMANDS: dict[str, tuple[str, str]] = {
    # name: ("module:function", one-line help)
    "train": ("transfuse.cli.train:main", "fine-tune a model: transfuse train <task> [CONFIG.yaml] [--flags]"),
    "evaluate": ("transfuse.cli.evaluate:main", "score a trained model on validation data"),
    "predict": ("transfuse.cli.predict:main", "predict a file, one JSON line per input row"),
    "tasks": ("transfuse.cli.main:list_tasks", "list the tasks, their pipeline tags and shipped configs"),
    "demo": ("transfuse.cli.demo:main", "train, evaluate and use a small classifier on built-in data, offline"),
    "push": ("transfuse.cli.push:main", "upload a run (weights, code, tokenizer, card) to the Hugging Face Hub"),
    "tokenizer": ("transfuse.cli.tokenizer:main", "train a tokenizer on raw text: transfuse tokenizer train ..."),
    "pretrain": ("transfuse.cli.pretrain:main", "pretrain an encoder, decoder or encoder-decoder on raw text"),
    "generate": ("transfuse.cli.generate:main", "generate text from prompts with a decoder or encoder-decoder"),
    "merge": (
        "transfuse.cli.merge:main",
        "fold an adapter run into its base: transfuse merge RUN_DIR --output_dir DIR",
    ),
    "adapters": ("transfuse.cli.adapters:main", "adapter tools: transfuse adapters check|methods"),
}
# Commands whose first word names what they act on; it belongs in the error line (`transfuse train classification:
# error: ...`).
SUBJECT_COMMANDS = ("train", "evaluate", "predict", "tokenizer", "adapters")


def _usage() -> str:
    width = max((len(name) for name in COMMANDS), default=8)
    lines = ["usage: transfuse <command> [options]", "       transfuse --version", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in sorted(COMMANDS.items())]
    lines += ["", "Run `transfuse <command> --help` for the options of one command."]
    return "\n".join(lines)


def list_tasks(argv: list[str]) -> int:
    """`transfuse tasks`: every registered task, its `transformers.pipeline` tag and the configs shipped for it."""
    from .help import tasks_text

    print(tasks_text())
    return 0


def _run(name: str, rest: list[str]) -> int:
    module_name, function_name = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module_name), function_name)(rest)


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the `transfuse` process itself: glibc malloc settings for model commands (allocator.py)
        apply_for_command(sys.argv[1] if len(sys.argv) > 1 else None)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from .. import __version__

        print(f"transfuse {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"transfuse: error: unknown command {name!r}; choose one of: {', '.join(sorted(COMMANDS))}",
            file=sys.stderr,
        )
        return 2
    program = f"transfuse {name}"
    if name in SUBJECT_COMMANDS and rest and not rest[0].startswith("-"):
        program += f" {rest[0]}"
    configure_console()
    return run_command(program, lambda words: _run(name, words), rest)


def command_main(name: str, argv: list[str] | None = None) -> int:
    """The body of a launch script for command `name`: `main([name, *sys.argv[1:]])`."""
    return main([name, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
