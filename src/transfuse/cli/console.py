"""What a command prints besides its results: transfuse's progress at INFO, the libraries' warnings, no noise.

`configure_console()` runs once per command, before the heavy imports, and silences what a user cannot act on:

- bitsandbytes (imported by peft) and `kernels` log, on every import on a CPU with AVX512-BF16, that an optional
  4-bit CPU kernel cannot be fetched from the Hub (and that its publisher check is skipped offline);
- `transformers` warns that `is_gradient_checkpointing` is deprecated whenever peft wraps a model;
- `transformers` prints a load report listing only MISSING keys ("newly initialized ... Consider training") when
  a model gets a new head: transfuse says which modules it initialised itself (`Newly initialised modules`), and
  for an adapter run folder the head is restored right after the base is loaded, so the report is wrong there.
  Reports with unexpected or mismatched keys still come through.
"""

from __future__ import annotations

import logging
import warnings

QUIET_LOGGERS = ("bitsandbytes.backends.cpu.ops", "kernels")
FUTURE_WARNINGS = (r"`is_gradient_checkpointing` is deprecated",)


class MissingOnlyLoadReport(logging.Filter):
    """Drops transformers' LOAD REPORT when every key it lists is MISSING (a new head; see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        rows = [line for line in message.splitlines() if line.count("|") >= 2 and "Status" not in line]
        return not rows or not all("MISSING" in row for row in rows)


_FILTER = MissingOnlyLoadReport()


def configure_console() -> None:
    """transfuse's own messages at INFO, the libraries' at WARNING (their progress bars stay), minus the noise."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transfuse").setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    report_logger = logging.getLogger("transformers.modeling_utils")
    if _FILTER not in report_logger.filters:
        report_logger.addFilter(_FILTER)
    for pattern in FUTURE_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=FutureWarning)


__all__ = ["configure_console"]
