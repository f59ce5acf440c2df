"""Raw text in: text files, a Hub dataset or a local dataset, as a dataset of documents (one `text` column).

Pretraining reads its corpus here and nowhere else. Text files are read with
`transfuse.tokenization.iter_text_files`, so bad UTF-8 is reported by file and byte offset (or replaced, with
`encoding_errors="replace"`) and an empty file stops the run; a folder stands for its files and a glob
pattern for its matches (`expand_text_files`); each file becomes one document (its non-blank
lines joined by newlines; a file over `MAX_DOCUMENT_CHARS` is cut at line boundaries). A dataset keeps its
rows as documents. Map-style corpora are cached by `datasets` (files under a fingerprint of their paths,
sizes and modification times, so an edited file is read again); `streaming=True` reads lazily instead.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict, IterableDataset, IterableDatasetDict
from datasets.exceptions import DatasetGenerationError

from ..tokenization import iter_text_files

TEXT = "text"
MAX_DOCUMENT_CHARS = 4_000_000  # keeps one document (and its token list) well within memory
_READER_VERSION = 1  # bump when `read_documents` changes what it yields, to invalidate cached corpora

Corpus = Dataset | IterableDataset


def expand_text_files(paths: Sequence[str]) -> list[str]:
    """Files named directly, the files of a folder (sorted, hidden ones skipped) and the matches of globs."""
    files: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            files += sorted(str(p) for p in Path(path).iterdir() if p.is_file() and not p.name.startswith("."))
        elif not Path(path).exists() and glob.has_magic(path):
            matches = sorted(p for p in glob.glob(path) if Path(p).is_file())
            if not matches:
                raise FileNotFoundError(f"no text file matches {path!r} (--train_files / --validation_files)")
            files += matches
        elif Path(path).is_file():
            files.append(str(path))
        else:
            raise FileNotFoundError(f"text file not found: {path!r} (--train_files / --validation_files)")
    return files


def read_documents(files: Sequence[str], encoding_errors: str = "strict") -> Iterator[dict[str, str]]:
    """Yield `{"text": document}` per file (non-blank lines joined by "\\n"), cutting files over the cap."""
    for file in files:
        lines: list[str] = []
        n_chars = 0
        for line in iter_text_files([file], encoding_errors):
            lines.append(line)
            n_chars += len(line) + 1
            if n_chars >= MAX_DOCUMENT_CHARS:
                yield {TEXT: "\n".join(lines)}
                lines, n_chars = [], 0
        if lines:
            yield {TEXT: "\n".join(lines)}


def load_text_corpus(
    files: Sequence[str] | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    split: str = "train",
    text_column: str = TEXT,
    streaming: bool = False,
    encoding_errors: str = "strict",
    cache_dir: str | None = None,
) -> Corpus:
    """Load one split of documents from exactly one of `files` and `dataset_name`, as a single `text` column.

    Blank or missing texts of a dataset are dropped. Raises `ValueError` naming the flag for a missing column
    or split, and re-raises the reader's own error (bad UTF-8 with its byte offset, empty file) unwrapped.
    """
    if (files is None) == (dataset_name is None):
        raise ValueError(
            "pass exactly one of files= (--train_files/--validation_files) and dataset_name= (--dataset_name)"
        )
    if files is not None:
        return _load_files(expand_text_files(files), streaming, encoding_errors, cache_dir)
    corpus = _load_dataset(dataset_name, dataset_config_name, split, streaming, cache_dir)
    return _text_only(corpus, text_column, dataset_name)


def _load_files(files: list[str], streaming: bool, encoding_errors: str, cache_dir: str | None) -> Corpus:
    gen_kwargs = {"files": files, "encoding_errors": encoding_errors}
    if streaming:
        # a list in gen_kwargs is sharded: DataLoader workers each read their own files
        return IterableDataset.from_generator(read_documents, gen_kwargs=gen_kwargs)
    try:
        return Dataset.from_generator(
            read_documents,
            gen_kwargs=gen_kwargs,
            cache_dir=cache_dir,
            fingerprint=_files_fingerprint(files, encoding_errors),
        )
    except DatasetGenerationError as err:  # surface "bad byte at offset ..." instead of the generic wrapper
        if isinstance(err.__cause__, (ValueError, OSError)):
            raise err.__cause__ from None
        raise


def _files_fingerprint(files: list[str], encoding_errors: str) -> str:
    """Hash of what the documents depend on: reader version, paths, sizes, modification times, error mode."""
    stamps = [(str(Path(f).resolve()), Path(f).stat().st_size, Path(f).stat().st_mtime_ns) for f in files]
    key = json.dumps([_READER_VERSION, encoding_errors, stamps])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _load_dataset(name: str, config: str | None, split: str, streaming: bool, cache_dir: str | None) -> Corpus:
    """A folder written by `save_to_disk` loads with `load_from_disk`; anything else with `load_dataset`."""
    path = Path(name)
    if path.is_dir() and any((path / marker).is_file() for marker in ("dataset_dict.json", "state.json")):
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, DatasetDict):
            loaded = _pick_split(loaded, split, name)
        return loaded.to_iterable_dataset() if streaming else loaded
    try:
        loaded = datasets.load_dataset(name, config, streaming=streaming, cache_dir=cache_dir)
    except Exception as err:  # offline Hub, unknown name, bad config: one clear message with the cause
        raise ValueError(f"could not load --dataset_name {name!r} (config {config!r}): {err}") from err
    return _pick_split(loaded, split, name)


def _pick_split(loaded: DatasetDict | IterableDatasetDict, split: str, name: str) -> Corpus:
    if split not in loaded:
        raise ValueError(
            f"dataset {name!r} has no split {split!r}; its splits are {sorted(loaded)} "
            "(--train_split / --validation_split)"
        )
    return loaded[split]


def _text_only(corpus: Corpus, text_column: str, name: str) -> Corpus:
    """Keep `text_column` only, renamed `text`, without blank rows."""
    columns = corpus.column_names
    if columns is not None and text_column not in columns:
        raise ValueError(f"dataset {name!r} has no column {text_column!r}; its columns are {columns} (--text_column)")
    corpus = corpus.select_columns([text_column])
    if text_column != TEXT:
        corpus = corpus.rename_column(text_column, TEXT)
    return corpus.filter(_has_text, input_columns=[TEXT], batched=True)


def _has_text(texts: list[str | None]) -> list[bool]:
    return [isinstance(t, str) and bool(t.strip()) for t in texts]


__all__ = ["MAX_DOCUMENT_CHARS", "TEXT", "expand_text_files", "load_text_corpus", "read_documents"]
