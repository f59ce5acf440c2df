"""Raw examples from a Hub dataset or from local csv / tsv / json / jsonl / parquet files.

`load_splits` is the one entry point: it returns, per split (train / validation / test), the examples exactly
as the source holds them plus the name of that source, which every later error message quotes. Reading goes
through `datasets.load_dataset` (a Hub name, or the `csv` / `json` / `parquet` builders for local files), so
caching, memory mapping and the Arrow types are the library's. What is added here:

* a missing file or an unknown extension is reported with the flag that named it;
* a row that does not parse is located (file and line) by re-reading the file line by line after the builder
  failed, and with `skip_bad_rows` such rows are dropped and counted instead;
* without network access a Hub dataset fails in seconds with the way out (local files, or the offline cache),
  instead of after a minute of retries.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import datasets
from datasets import Dataset

from .validation import DataValidationError, SkipReport

logger = logging.getLogger(__name__)

# file extension -> (datasets builder, builder keyword arguments)
FILE_FORMATS: dict[str, tuple[str, dict[str, str]]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}
SPLIT_FLAGS = {"train": "--train_file", "validation": "--validation_file", "test": "--test_file"}
HUB_PROBE_TIMEOUT_S = 3.0


class DataLoadingError(OSError):
    """A source that cannot be read at all; the message names it and says what to do."""


@dataclass
class RawSplit:
    """The examples of one split as the source holds them, the source's name for messages, and skipped
    rows."""

    examples: Dataset
    source: str
    skipped: SkipReport


def check_file_format(path: str, flag: str) -> None:
    """Raise unless `path` has a supported extension (a parse-time check: the file need not exist yet)."""
    if Path(path).suffix.lower() not in FILE_FORMATS:
        raise ValueError(
            f"{flag} {path!r} has an unsupported extension; use one of {', '.join(FILE_FORMATS)} "
            "(tsv = tab-separated csv with a header line; json = a JSON array or JSON Lines)."
        )


def load_splits(
    files: Mapping[str, str | None],
    dataset_name: str | None = None,
    dataset_config: str | None = None,
    split_names: Mapping[str, str] | None = None,
    skip_bad_rows: bool = False,
    cache_dir: str | None = None,
) -> dict[str, RawSplit]:
    """Load the requested splits, from the Hub (`dataset_name`) or from local `files` (split -> path or None).

    `split_names` maps our split names to the dataset's own (e.g. `{"validation": "dev"}`); splits whose file
    is None are not loaded.
    """
    wanted = [split for split, path in files.items() if path is not None or dataset_name]
    if dataset_name:
        return _load_hub_splits(dataset_name, dataset_config, wanted, dict(split_names or {}), cache_dir)
    return {
        split: load_file(files[split], SPLIT_FLAGS.get(split, split), skip_bad_rows, cache_dir)
        for split in wanted
    }


# ---------------------------------------------------------------------------------------------------------
# Local files
# ---------------------------------------------------------------------------------------------------------


def load_file(
    path: str | os.PathLike, flag: str, skip_bad_rows: bool = False, cache_dir: str | None = None
) -> RawSplit:
    """Load one local file; unparsable rows raise (naming file and line) or, with `skip_bad_rows`, are
    dropped."""
    path = str(path)
    check_file_format(path, flag)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{flag} {path!r}: no such file (resolved to {Path(path).resolve()}).")
    builder, kwargs = FILE_FORMATS[Path(path).suffix.lower()]
    try:
        examples = _read_with_builder(path, builder, kwargs, cache_dir)
        return RawSplit(examples, path, SkipReport(path, total_rows=len(examples)))
    except Exception as err:  # the builders wrap parser errors in DatasetGenerationError; locate the row here
        bad_lines = _unparsable_lines(path, builder, kwargs)
        if not bad_lines:
            cause = err.__cause__ or err
            raise DataLoadingError(
                f"{flag} {path!r} could not be read: {type(cause).__name__}: {cause}"
            ) from err
        if not skip_bad_rows:
            line, reason = bad_lines[0]
            more = f" ({len(bad_lines) - 1} more unparsable lines follow)" if len(bad_lines) > 1 else ""
            raise DataValidationError(
                f"{path}, line {line}: the row does not parse as {builder}: {reason}{more}. Fix the file, "
                "or pass --skip_bad_rows to drop unparsable rows (their count is reported)."
            ) from err
    examples = _read_skipping(path, builder, kwargs, {line for line, _ in bad_lines}, cache_dir)
    report = SkipReport(path, total_rows=len(examples) + len(bad_lines))
    report.add("row does not parse", len(bad_lines))
    return RawSplit(examples, path, report)


def _read_with_builder(path: str, builder: str, kwargs: dict, cache_dir: str | None, **extra) -> Dataset:
    return datasets.load_dataset(
        builder, data_files={"data": path}, split="data", cache_dir=cache_dir, **kwargs, **extra
    )


def _unparsable_lines(path: str, builder: str, kwargs: dict) -> list[tuple[int, str]]:
    """(1-based line number, parser message) of every row the builder cannot parse; empty if none is found."""
    if builder == "json":
        return _unparsable_json_lines(path)
    if builder == "csv":
        return _unparsable_csv_lines(path, kwargs.get("sep", ","))
    return []  # parquet is binary: a broken file has no rows to point at


def _unparsable_json_lines(path: str) -> list[tuple[int, str]]:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        json.loads(text)
        return []  # one valid JSON document: the problem is not a row
    except json.JSONDecodeError:
        pass
    bad = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError as err:
            bad.append((number, f"{err.msg} at column {err.colno}"))
    return bad


def _unparsable_csv_lines(path: str, sep: str) -> list[tuple[int, str]]:
    """Rows with more fields than the header (pandas rejects those; rows with fewer fields get nulls)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    bad = []
    try:
        header = next(reader)
        for row in reader:
            if len(row) > len(header):
                bad.append(
                    (reader.line_num, f"expected {len(header)} fields as in the header, saw {len(row)}")
                )
    except (StopIteration, csv.Error) as err:
        bad.append((reader.line_num, str(err) or "empty file"))
    return bad


def _read_skipping(
    path: str, builder: str, kwargs: dict, bad_lines: set[int], cache_dir: str | None
) -> Dataset:
    if builder == "csv":
        return _read_with_builder(path, builder, kwargs, cache_dir, on_bad_lines="skip")
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    rows = [
        json.loads(line)
        for number, line in enumerate(lines, start=1)
        if number not in bad_lines and line.strip()
    ]
    return Dataset.from_list(rows)


# ---------------------------------------------------------------------------------------------------------
# Hub datasets
# ---------------------------------------------------------------------------------------------------------


def _load_hub_splits(
    name: str, config: str | None, wanted: list[str], split_names: dict[str, str], cache_dir: str | None
) -> dict[str, RawSplit]:
    described = f"dataset {name!r}" + (f" (config {config!r})" if config else "")
    unreachable = hub_unreachable_reason()
    if unreachable:
        raise DataLoadingError(
            f"Cannot download {described}: the Hugging Face Hub is unreachable ({unreachable}). Pass local "
            "files with --train_file/--validation_file/--test_file instead, or, if the dataset is in your "
            "local cache, set HF_DATASETS_OFFLINE=1 to load it from there."
        )
    try:
        dataset_dict = datasets.load_dataset(name, config, cache_dir=cache_dir)
    except ConnectionError as err:
        raise DataLoadingError(
            f"Cannot load {described}: {err}. It is not in the local cache and the Hub cannot be used "
            "(offline mode is on or the network is down); pass local files with "
            "--train_file/--validation_file instead."
        ) from err
    except (FileNotFoundError, ValueError) as err:
        raise DataLoadingError(f"Cannot load {described} (--dataset_name/--dataset_config): {err}") from err
    splits = {}
    for split in wanted:
        own_name = split_names.get(split, split)
        if own_name not in dataset_dict:
            raise DataLoadingError(
                f"{described} has no split {own_name!r}; its splits are "
                f"{', '.join(map(repr, dataset_dict))}. Name the right one with --{split}_split_name."
            )
        examples = dataset_dict[own_name]
        source = f"{name}" + (f"/{config}" if config else "") + f" [{own_name}]"
        splits[split] = RawSplit(examples, source, SkipReport(source, total_rows=len(examples)))
    return splits


def hub_unreachable_reason(timeout: float = HUB_PROBE_TIMEOUT_S) -> str | None:
    """Why the Hub endpoint cannot be reached, or None when it can (or when it is not ours to tell).

    Offline mode (the datasets then come from the local cache) and proxies (a direct connection says nothing
    about the proxied one) are left to `datasets` itself.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or datasets.config.HF_HUB_OFFLINE:
        return None
    if any(
        os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")
    ):
        return None
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except OSError as err:
        return f"{endpoint.hostname}:{port}: {err}"
    return None


__all__ = [
    "FILE_FORMATS",
    "DataLoadingError",
    "RawSplit",
    "check_file_format",
    "hub_unreachable_reason",
    "load_file",
    "load_splits",
]
