"""Raw examples from a Hub dataset or from local csv / tsv / json / jsonl / parquet files.

`load_splits` is the one entry point: it returns, per split (train / validation / test), the examples exactly
as the source holds them plus the name of that source, which every later error message quotes. Reading goes
through `datasets.load_dataset` (a Hub name, or the `csv` / `json` / `parquet` builders for local files), so
caching, memory mapping and the Arrow types are the library's. What is added here:

* a missing file or an unknown extension is reported with the flag that named it;
* a row that does not parse is located (file and line) by re-reading the file line by line after the builder
  failed, and with `skip_bad_rows` such rows are dropped and counted instead, each recorded at its row number
  (`RawSplit.unparsable`) so that predictions keep the input's line order;
* text that is not in `--encoding` (UTF-8 by default) is reported by line before the builders see it, and an
  empty file or a csv / tsv with a header and no rows says so;
* a .tsv is read without quote processing (`--quoting auto`): a stray `"` in a text stays a character instead
  of joining the rows up to the next quote into one field;
* without network access a Hub dataset fails in seconds with the way out (local files, or the offline cache),
  instead of after a minute of retries.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import datasets
from datasets import Dataset

from .validation import DataValidationError, SkipReport

logger = logging.getLogger(__name__)

# file extension -> (datasets builder, builder keyword arguments)
FILE_FORMATS: dict[str, tuple[str, dict[str, Any]]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".parquet": ("parquet", {}),
}
TEXT_BUILDERS = ("csv", "json")
# --quoting: `auto` processes quotes in .csv (the CSV standard) and reads .tsv fields literally (a stray quote in
# a tab-separated text must not swallow the rows after it); `csv` and `none` force one behaviour for both.
QUOTING = {"csv": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}
QUOTING_CHOICES = ("auto", "csv", "none")
SPLIT_FLAGS = {"train": "--train_file", "validation": "--validation_file", "test": "--test_file"}
HUB_PROBE_TIMEOUT_S = 3.0
_CHUNK = 1 << 20


class DataLoadingError(OSError):
    """A source that cannot be read at all; the message names it and says what to do."""


@dataclass
class RawSplit:
    """The examples of one split as the source holds them, the source's name for messages, and skipped rows.

    `unparsable` maps the 0-based source row number of each row that did not parse (and was dropped with
    `--skip_bad_rows`) to the reason, so that `transfuse predict` can still answer row i on line i.
    """

    examples: Dataset
    source: str
    skipped: SkipReport
    unparsable: dict[int, str] = field(default_factory=dict)

    def row_numbers(self) -> list[int]:
        """The 0-based source row of each example, in order (the rows that did not parse are left out)."""
        total = len(self.examples) + len(self.unparsable)
        return [row for row in range(total) if row not in self.unparsable]


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
    encoding: str = "utf-8",
    quoting: str = "auto",
) -> dict[str, RawSplit]:
    """Load the requested splits, from the Hub (`dataset_name`) or from local `files` (split -> path or None).

    `split_names` maps our split names to the dataset's own (e.g. `{"validation": "dev"}`); splits whose file
    is None are not loaded. `encoding` and `quoting` apply to local csv / tsv / json files (--encoding,
    --quoting).
    """
    wanted = [split for split, path in files.items() if path is not None or dataset_name]
    if dataset_name:
        return _load_hub_splits(dataset_name, dataset_config, wanted, dict(split_names or {}), cache_dir)
    return {
        split: load_file(files[split], SPLIT_FLAGS.get(split, split), skip_bad_rows, cache_dir, encoding, quoting)
        for split in wanted
    }


# ---------------------------------------------------------------------------------------------------------
# Local files
# ---------------------------------------------------------------------------------------------------------


def load_file(
    path: str | os.PathLike,
    flag: str,
    skip_bad_rows: bool = False,
    cache_dir: str | None = None,
    encoding: str = "utf-8",
    quoting: str = "auto",
) -> RawSplit:
    """Load one local file; unparsable rows raise (naming file and line) or, with `skip_bad_rows`, are
    dropped and recorded at their row number. A wrong encoding, an empty file or a header without rows
    always raise: there is no row to skip there."""
    path = str(path)
    check_file_format(path, flag)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{flag} {path!r}: no such file (resolved to {Path(path).resolve()}).")
    builder, kwargs = _builder_arguments(path, encoding, quoting)
    if builder in TEXT_BUILDERS:
        _check_encoding(path, flag, encoding)
        _check_not_empty(path, flag, builder, kwargs)
    try:
        examples = _read_with_builder(path, builder, kwargs, cache_dir)
        return RawSplit(examples, path, SkipReport(path, total_rows=len(examples)))
    except Exception as err:  # the builders wrap parser errors in DatasetGenerationError; locate the row here
        bad_rows, total = _unparsable_rows(path, builder, kwargs)
        if not bad_rows:
            cause = err.__cause__ or err
            raise DataLoadingError(f"{flag} {path!r} could not be read: {type(cause).__name__}: {cause}") from err
        if not skip_bad_rows:
            line, _, reason = bad_rows[0]
            more = f" ({len(bad_rows) - 1} more unparsable lines follow)" if len(bad_rows) > 1 else ""
            raise DataValidationError(
                f"{path}, line {line}: the row does not parse as {builder}: {reason}{more}. Fix the file, "
                "or pass --skip_bad_rows to drop unparsable rows (their count is reported)."
            ) from err
    examples = _read_skipping(path, builder, kwargs, {line for line, _, _ in bad_rows}, cache_dir)
    unparsable = {row: f"row does not parse (line {line}: {reason})" for line, row, reason in bad_rows}
    if len(examples) + len(unparsable) != total:  # never hand on rows whose numbering is uncertain
        raise DataLoadingError(
            f"{flag} {path!r}: {len(examples)} rows parsed and {len(unparsable)} did not, but the file holds "
            f"{total}; fix the unparsable lines ({', '.join(str(line) for line, _, _ in bad_rows[:5])}) rather "
            "than skipping them."
        )
    if not len(examples):
        raise DataValidationError(f"{flag} {path}: none of its {total} rows parses; check that it is {builder}.")
    report = SkipReport(path, total_rows=total)
    report.add("row does not parse", len(bad_rows))
    return RawSplit(examples, path, report, unparsable)


def _builder_arguments(path: str, encoding: str, quoting: str) -> tuple[str, dict[str, Any]]:
    builder, kwargs = FILE_FORMATS[Path(path).suffix.lower()]
    kwargs = dict(kwargs)
    if builder in TEXT_BUILDERS:
        kwargs["encoding"] = encoding
    if builder == "csv":
        if quoting not in QUOTING_CHOICES:
            raise ValueError(f"--quoting {quoting!r}: choose one of {', '.join(QUOTING_CHOICES)}.")
        kwargs["quoting"] = QUOTING.get(quoting, QUOTING["none" if kwargs.get("sep") == "\t" else "csv"])
    return builder, kwargs


def _check_encoding(path: str, flag: str, encoding: str) -> None:
    """Raise naming the first line that is not valid `encoding` text (decoding in chunks: files can be large)."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as err:
        raise DataLoadingError(
            f"--encoding {encoding!r} is not an encoding Python knows; e.g. utf-8, latin-1, cp1252, utf-16."
        ) from err
    lines_before = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                line = lines_before + chunk[: max(err.start, 0)].count(b"\n") + 1
                raise DataValidationError(
                    f"{flag} {path}, line {line}: not valid {encoding} text ({err.reason}). Pass the file's "
                    "encoding with --encoding (e.g. --encoding latin-1 or cp1252), or re-save it as UTF-8."
                ) from err
            if not chunk:
                return
            lines_before += chunk.count(b"\n")


def _check_not_empty(path: str, flag: str, builder: str, kwargs: dict[str, Any]) -> None:
    """An empty file, or a csv / tsv with a header and no rows, says so (the builders' messages do not)."""
    with open(path, encoding=kwargs["encoding"]) as handle:
        head = [line for _, line in zip(range(2), (line for line in handle if line.strip()))]
    if not head:
        raise DataValidationError(f"{flag} {path} is empty: it holds no rows. Point {flag} at the file with the data.")
    if builder == "csv" and len(head) == 1:
        columns = next(csv.reader(io.StringIO(head[0]), delimiter=kwargs.get("sep", ",")))
        raise DataValidationError(
            f"{flag} {path} has a header line ({', '.join(columns)}) but no rows. Point {flag} at the file with "
            "the data."
        )


def _read_with_builder(path: str, builder: str, kwargs: dict, cache_dir: str | None, **extra) -> Dataset:
    return datasets.load_dataset(
        builder, data_files={"data": path}, split="data", cache_dir=cache_dir, **kwargs, **extra
    )


def _unparsable_rows(path: str, builder: str, kwargs: dict) -> tuple[list[tuple[int, int, str]], int]:
    """(1-based line, 0-based row, parser message) of every row the builder cannot parse, and the number of
    rows in the file; no rows when none is found."""
    if builder == "json":
        return _unparsable_json_rows(path, kwargs["encoding"])
    if builder == "csv":
        return _unparsable_csv_rows(path, kwargs)
    return [], 0  # parquet is binary: a broken file has no rows to point at


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ValueError(f"key {duplicated[0]!r} appears twice")
    return dict(pairs)


def _unparsable_json_rows(path: str, encoding: str) -> tuple[list[tuple[int, int, str]], int]:
    text = Path(path).read_text(encoding=encoding)
    try:
        json.loads(text)
        return [], 0  # one valid JSON document: the problem is not a row
    except json.JSONDecodeError:
        pass
    bad, row = [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # a blank line is not a row (the json builder skips it too)
        try:
            value = json.loads(line, object_pairs_hook=_json_object)
            if not isinstance(value, dict):
                bad.append((number, row, f"a JSON {type(value).__name__}, not an object"))
        except json.JSONDecodeError as err:
            bad.append((number, row, f"{err.msg} at column {err.colno}"))
        except ValueError as err:
            bad.append((number, row, str(err)))
        row += 1
    return bad, row


def _unparsable_csv_rows(path: str, kwargs: dict[str, Any]) -> tuple[list[tuple[int, int, str]], int]:
    """Rows with more fields than the header (pandas rejects those; rows with fewer fields get nulls)."""
    with open(path, encoding=kwargs["encoding"], newline="") as handle:
        reader = csv.reader(handle, delimiter=kwargs.get("sep", ","), quoting=kwargs["quoting"])
        bad, row = [], 0
        try:
            header = next(reader)
            for record in reader:
                if not record:
                    continue  # a blank line is not a row (pandas skips it too)
                if len(record) > len(header):
                    bad.append(
                        (reader.line_num, row, f"expected {len(header)} fields as in the header, saw {len(record)}")
                    )
                row += 1
        except StopIteration:
            return [], 0
        except csv.Error as err:
            bad.append((reader.line_num, row, str(err)))
            row += 1
    return bad, row


def _read_skipping(path: str, builder: str, kwargs: dict, bad_lines: set[int], cache_dir: str | None) -> Dataset:
    if builder == "csv":
        return _read_with_builder(path, builder, kwargs, cache_dir, on_bad_lines="skip")
    # the kept lines go through the json builder too, so their types come out as from a clean file (a column of
    # mixed strings and numbers becomes a `Json` column, whose bad values the row checks then name)
    lines = Path(path).read_text(encoding=kwargs["encoding"]).splitlines()
    kept = [line for number, line in enumerate(lines, start=1) if number not in bad_lines and line.strip()]
    if not kept:
        return Dataset.from_list([])
    with tempfile.TemporaryDirectory(prefix="transfuse-rows-") as folder:
        parsed = Path(folder) / Path(path).name
        parsed.write_text("\n".join(kept) + "\n", encoding="utf-8")
        return _read_with_builder(str(parsed), builder, {**kwargs, "encoding": "utf-8"}, cache_dir)


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
    if any(os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
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
    "QUOTING_CHOICES",
    "DataLoadingError",
    "RawSplit",
    "check_file_format",
    "hub_unreachable_reason",
    "load_file",
    "load_splits",
]
