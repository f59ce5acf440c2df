"""Prediction files: written whole or not at all, never over the input, never over another run's file.

`write_lines` writes to a temporary file next to the destination and renames it into place (`os.replace` is
atomic on one file system), so a reader never sees half a file and a killed `predict` leaves the old file as it
was. `check_output_file` runs before any model is loaded: the output must not be the input, and an existing
output is only replaced when the user says so (`--overwrite_output_file`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def check_output_file(output_file: str | Path, input_file: str | Path | None, overwrite: bool) -> None:
    """Refuse an output that is the input, or that exists already without `overwrite`."""
    output = Path(output_file)
    if input_file is not None and output.resolve() == Path(input_file).resolve():
        raise ValueError(
            f"--output_file {str(output_file)!r} is the input file (--test_file); predictions would replace "
            "the rows they answer. Name another --output_file."
        )
    if output.exists() and not overwrite:
        raise FileExistsError(
            f"--output_file {str(output_file)!r} already exists; name another file, or pass "
            "--overwrite_output_file to replace it."
        )


def write_lines(path: str | Path, lines: Iterable[str], overwrite: bool = True) -> Path:
    """Write `lines` (each without its newline) to `path` atomically: a temporary file, then a rename.

    With `overwrite=False` the file is published with a hard link, which fails when `path` exists: a writer that
    appeared since `check_output_file` ran is not silently replaced (`FileExistsError`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            for line in lines:
                handle.write(line + "\n")
        if overwrite:
            os.replace(handle.name, path)
        else:
            publish_new(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def publish_new(temporary: str | Path, path: str | Path) -> None:
    """Move the finished `temporary` file to `path` unless `path` exists (then `FileExistsError`, nothing moved)."""
    try:
        os.link(temporary, path)  # atomic, and never replaces an existing file
    except FileExistsError:
        raise FileExistsError(
            f"--output_file {str(path)!r} was created by another writer while this one ran; nothing was replaced. "
            "Name another file, or pass --overwrite_output_file."
        ) from None
    except OSError:  # a file system without hard links: the check made before the model was loaded stands
        os.replace(temporary, path)
        return
    os.unlink(temporary)


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]], overwrite: bool = True) -> Path:
    """One JSON object per line, atomically (see `write_lines`)."""
    return write_lines(path, (json.dumps(row, ensure_ascii=False) for row in rows), overwrite)


__all__ = ["check_output_file", "publish_new", "write_jsonl", "write_lines"]
