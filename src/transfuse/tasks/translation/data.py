"""Parallel data in every layout translation data comes in, read into one flat shape: a column per language.

* line-aligned text files named by one prefix and a language suffix (`train.de` + `train.en`, given as
  `--train_file data/train`, or as one of the two files);
* csv / tsv / jsonl / json / parquet with one column per language (`{"de": ..., "en": ...}`);
* the Hub's nested layout, `{"translation": {"de": ..., "en": ...}}`, flattened with `Dataset.flatten`.

Everything structural is refused here with one line before any model exists: parallel files whose line counts
differ (both files and counts named, and the first line where a blank line on one side meets text on the
other, which is usually where a line went missing), a language that the data does not hold (the languages it
holds are listed). Row-level problems (an empty line on either side) are left to the task's `find_bad_rows`,
so that `--skip_bad_rows` can count and drop them.
"""

from __future__ import annotations

import re
from pathlib import Path

from datasets import Dataset

from ...data.loading import FILE_FORMATS, RawSplit, load_file
from ...data.validation import DataValidationError, SkipReport

TRANSLATION_COLUMN = "translation"
# `de`, `eng`, `pt_BR`, `zh-Hans`: what a language suffix of a parallel text file looks like
LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,4})?$")


def parallel_files(path: str | Path) -> dict[str, Path]:
    """`{language: file}` of the parallel text files that `path` names: `path` is the prefix (`data/train` for
    `data/train.de` + `data/train.en`) or one of the files itself; empty when `path` names none."""
    path = Path(path)
    if path.suffix.lower() in FILE_FORMATS:
        return {}
    prefix = path
    if path.is_file() and LANGUAGE_CODE.match(path.suffix[1:]) and not _language_siblings(path):
        prefix = path.with_suffix("")
    return _language_siblings(prefix)


def _language_siblings(prefix: Path) -> dict[str, Path]:
    if not prefix.parent.is_dir():
        return {}
    files = {}
    for candidate in prefix.parent.glob(f"{_escape_glob(prefix.name)}.*"):
        language = candidate.name[len(prefix.name) + 1 :]
        if candidate.is_file() and LANGUAGE_CODE.match(language):
            files[language] = candidate
    return dict(sorted(files.items()))


def _escape_glob(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, without line breaks; a final newline ends the last line (no extra empty
    line). Bad UTF-8 is refused naming the byte offset."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataValidationError(
            f"{path} is not valid UTF-8: first bad byte 0x{data[err.start]:02x} at byte offset {err.start}; "
            "re-encode the file as UTF-8."
        ) from err
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")  # not splitlines(): U+2028 and friends may occur inside a sentence
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_parallel(prefix: str, languages: list[str], flag: str, optional: list[str] = ()) -> Dataset:
    """One column per language in `languages` (required) and `optional` (read when present), row i = line i."""
    files = parallel_files(prefix)
    missing = [language for language in languages if language not in files]
    if missing:
        present = ", ".join(f"{language!r} ({file.name})" for language, file in files.items()) or "none"
        flags = " / ".join(_language_flag(language, languages) for language in missing)
        raise DataValidationError(
            f"{flag} {prefix!r}: no parallel file for language {', '.join(map(repr, missing))} ({flags}); the "
            f"languages present are {present}. Pass one of those codes, or add the file "
            f"{Path(prefix).name}.{missing[0]}."
        )
    wanted = [*languages, *(language for language in optional if language in files)]
    columns = {language: read_lines(files[language]) for language in wanted}
    check_aligned({files[language]: columns[language] for language in wanted}, flag)
    return Dataset.from_dict(columns)


def _language_flag(language: str, languages: list[str]) -> str:
    return "--source_lang" if language == languages[0] else "--target_lang"


def check_aligned(sides: dict[Path, list[str]], flag: str) -> None:
    """Raise unless every file has as many lines as the first; name the first blank-vs-text line if any."""
    (first_file, first), *others = sides.items()
    for other_file, other in others:
        if len(other) == len(first):
            continue
        where = first_blank_mismatch(first, other)
        hint = (
            f"; line {where + 1} is the first where one side is blank and the other is not "
            f"({first_file.name}: {_show(first, where)}, {other_file.name}: {_show(other, where)}), "
            "often where a line went missing"
            if where is not None
            else "; no blank line faces a non-blank one, so look for a sentence split over two lines"
        )
        raise DataValidationError(
            f"{flag}: the parallel files differ in length: {first_file} has {len(first)} lines, {other_file} "
            f"has {len(other)}{hint}. Line i of one file must translate line i of the other."
        )


def first_blank_mismatch(left: list[str], right: list[str]) -> int | None:
    """The first 0-based line (of those both files have) where exactly one side is blank, or None."""
    for index in range(min(len(left), len(right))):
        if (not left[index].strip()) != (not right[index].strip()):
            return index
    return None


def _show(lines: list[str], index: int) -> str:
    if index >= len(lines):
        return "end of file"
    text = lines[index]
    return "blank" if not text.strip() else repr(text[:40] + ("..." if len(text) > 40 else ""))


def flatten_translation(examples: Dataset) -> Dataset:
    """`{"translation": {"de": ..., "en": ...}}` rows -> columns `de`, `en` (other columns kept)."""
    if TRANSLATION_COLUMN not in examples.column_names:
        return examples
    flat = examples.flatten()
    prefix = TRANSLATION_COLUMN + "."
    renames = {column: column[len(prefix) :] for column in flat.column_names if column.startswith(prefix)}
    clashes = sorted(set(renames.values()) & set(flat.column_names))
    if clashes:
        raise DataValidationError(
            f"the data has both a {TRANSLATION_COLUMN!r} dict and top-level column(s) {', '.join(clashes)}; "
            "keep one layout."
        )
    return flat.rename_columns(renames)


def check_languages(examples: Dataset, languages: dict[str, str], source: str) -> None:
    """Raise unless every language (-> the flag naming it) is a column; the error lists the columns there."""
    missing = {language: flag for language, flag in languages.items() if language not in examples.column_names}
    if missing:
        named = ", ".join(f"{flag} {language!r}" for language, flag in missing.items())
        raise DataValidationError(
            f"{source}: no column for {named}; the languages (columns) present are "
            f"{', '.join(map(repr, examples.column_names))}. Pass one of those codes."
        )


def read_translation_file(
    path: str, flag: str, skip_bad_rows: bool, languages: list[str], optional: list[str] = ()
) -> RawSplit:
    """Any supported layout -> a `RawSplit` with a column per language (`languages` required)."""
    if parallel_files(path):
        examples = read_parallel(path, languages, flag, optional)
        source = f"{path}.{{{','.join(examples.column_names)}}}"
        return RawSplit(examples, source, SkipReport(source, total_rows=len(examples)))
    if Path(path).suffix.lower() not in FILE_FORMATS:
        raise FileNotFoundError(
            f"{flag} {path!r}: neither a data file ({', '.join(FILE_FORMATS)}) nor the prefix of parallel text "
            f"files such as {Path(path).name}.{languages[0] if languages else 'de'}; check the path."
        )
    raw = load_file(path, flag, skip_bad_rows)
    examples = flatten_translation(raw.examples)
    check_languages(examples, {language: _language_flag(language, languages) for language in languages}, path)
    return RawSplit(examples, raw.source, raw.skipped)


__all__ = [
    "LANGUAGE_CODE",
    "TRANSLATION_COLUMN",
    "check_aligned",
    "check_languages",
    "first_blank_mismatch",
    "flatten_translation",
    "parallel_files",
    "read_lines",
    "read_parallel",
    "read_translation_file",
]
