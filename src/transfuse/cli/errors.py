"""The one error boundary of every `transfuse` command and of `scripts/run_<task>.py`.

`run_command(program, function, argv)` runs a command and turns what the user can act on into one line on
stderr and an exit code; nothing else in `transfuse.cli` catches exceptions:

- a user error (`USER_ERRORS`: bad arguments, files, columns, rows, an occupied folder, an unreachable Hub, ...)
  prints `<program>: error: <message>`, the message folded to one line, and exits 2;
- Ctrl-C prints one line (for a training run: where its last checkpoint is and the exact command that resumes
  it, registered with `on_interrupt`) and exits 130, the shell's code for SIGINT;
- anything else is a bug and keeps its traceback (exit 1).

`TRANSFUSE_TRACEBACK=1` re-raises instead, so the full traceback of a user error or an interrupt is shown.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

TRACEBACK_ENV = "TRANSFUSE_TRACEBACK"
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd program

# ValueError covers the argument and data checks (DataValidationError, WorldSizeMismatchError, ...); OSError covers
# missing and occupied files (FileNotFoundError, FileExistsError, PermissionError, DataLoadingError) and the Hub's
# errors (HfHubHTTPError, OfflineModeIsEnabled, LocalEntryNotFoundError, requests' ConnectionError).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)
# Raised deliberately with a message for the user when they come from transfuse's own code (e.g. "No Hub token:
# log in with ..."); from torch or another library they are bugs and keep their traceback.
OWN_CODE_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ImportError)
# Errors of the network and Hub client libraries (connection refused, timeouts, HTTP status), which do not all
# derive from OSError (httpx's do not); matched by the top-level module that defines them.
NETWORK_LIBRARIES = ("httpx", "httpx2", "httpcore", "requests", "urllib3", "huggingface_hub")
PACKAGE_DIR = Path(__file__).resolve().parents[1]

_interrupt_hint: Callable[[], str] | None = None


def show_tracebacks() -> bool:
    return os.environ.get(TRACEBACK_ENV, "").strip().lower() in ("1", "true", "yes")


def one_line(error: BaseException) -> str:
    """The error's message with every run of whitespace (newlines included) folded into one space."""
    text = " ".join(str(error).split())
    if isinstance(error, KeyError | OSError) and text.startswith(("'", '"')) and text.endswith(("'", '"')):
        text = text[1:-1]
    return text or type(error).__name__


def _raised_by_transfuse(error: BaseException) -> bool:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    return Path(frame.tb_frame.f_code.co_filename).resolve().is_relative_to(PACKAGE_DIR)


def is_user_error(error: BaseException) -> bool:
    """Whether `error` is something the user can fix from its message (else it is a bug: show the traceback)."""
    if isinstance(error, USER_ERRORS):
        return True
    if isinstance(error, OWN_CODE_ERRORS) and _raised_by_transfuse(error):
        return True
    return any(cls.__module__.split(".")[0] in NETWORK_LIBRARIES for cls in type(error).__mro__)


def on_interrupt(hint: Callable[[], str] | None) -> None:
    """Register what Ctrl-C should tell the user (called when it happens, so it can look at the checkpoints then);
    `None` clears it. A training command registers `resume_hint` once its arguments are parsed."""
    global _interrupt_hint
    _interrupt_hint = hint


def resume_command(words: Sequence[str]) -> list[str]:
    """`words` (a command line) with `--resume_from_checkpoint auto` instead of any resume or overwrite flag
    (overwriting would discard the checkpoints the resume needs)."""
    kept: list[str] = []
    skip_value = False
    for word in words:
        if skip_value:
            skip_value = False
            if not word.startswith("-"):
                continue
        name = word.split("=", 1)[0]
        if name in ("--resume_from_checkpoint", "--overwrite_output_dir"):
            skip_value = "=" not in word
            continue
        kept.append(word)
    return [*kept, "--resume_from_checkpoint", "auto"]


def resume_hint(output_dir: str, command_words: Sequence[str]) -> str:
    """One line: the newest complete checkpoint in `output_dir` and the command that continues from it."""
    import shlex

    from ..common.checkpointing import last_complete_checkpoint

    checkpoint = last_complete_checkpoint(output_dir)
    if checkpoint is None:
        return (
            f"no checkpoint was saved in {output_dir} yet, so nothing can be resumed; run the command again "
            "(--save_steps N saves every N steps)"
        )
    return f"last checkpoint: {checkpoint}; resume with: {shlex.join(resume_command(command_words))}"


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"  # torchrun / accelerate launch: one line, not one per process


def run_command(program: str, function: Callable[[list[str]], int | None], argv: list[str]) -> int:
    """Run `function(argv)` and return its exit code, or 2 for a user error and 130 for Ctrl-C (one line on
    stderr each); `program` (e.g. `transfuse train classification`) starts the line."""
    on_interrupt(None)
    try:
        return int(function(argv) or 0)
    except KeyboardInterrupt:
        if show_tracebacks():
            raise
        if _is_main_process():
            hint = _interrupt_hint() if _interrupt_hint is not None else ""
            print(f"{program}: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as error:
        if show_tracebacks() or not is_user_error(error):
            raise
        print(f"{program}: error: {one_line(error)}", file=sys.stderr, flush=True)
        return EXIT_USER_ERROR
    finally:
        on_interrupt(None)


__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USER_ERROR",
    "TRACEBACK_ENV",
    "USER_ERRORS",
    "is_user_error",
    "on_interrupt",
    "one_line",
    "resume_command",
    "resume_hint",
    "run_command",
]
