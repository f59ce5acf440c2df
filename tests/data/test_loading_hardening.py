"""Files that used to lose, merge or garble rows without a word, or fail with a message nobody could act on:
unparsable rows keep the numbering of the rows around them, TSV quotes are literal, empty and header-only files,
text in another encoding."""

from __future__ import annotations

import pytest

from transfuse.data.loading import DataLoadingError, load_file
from transfuse.data.validation import DataValidationError


def load(path, skip=False, **kwargs):
    return load_file(path, "--test_file", skip, cache_dir=str(path.parent / "cache"), **kwargs)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_unparsable_rows_are_recorded_at_their_row_number(tmp_path, suffix):
    """An unparsable row keeps its place: `unparsable` maps its 0-based row number to the reason, and
    `row_numbers` gives the source row of each kept example (predict writes an error line there)."""
    path = tmp_path / f"rows{suffix}"
    if suffix == ".jsonl":
        lines = [f'{{"text": "row {i}"}}' for i in range(6)]
        lines[2] = '{"text": "row 2"'  # cut short
        path.write_text("\n".join(lines) + "\n")
    else:
        lines = ["text"] + [f"row {i}" for i in range(6)]
        lines[3] = "row 2,surplus field"
        path.write_text("\n".join(lines) + "\n")
    split = load(path, skip=True)
    assert list(split.unparsable) == [2] and "does not parse" in split.unparsable[2]
    assert split.row_numbers() == [0, 1, 3, 4, 5]
    assert split.examples["text"] == ["row 0", "row 1", "row 3", "row 4", "row 5"]


def test_tsv_quotes_are_literal_unless_asked(tmp_path):
    """A quote opened on one line and closed five lines later used to merge six rows into one (48 -> 43)."""
    lines = [f"row {i}\t{i % 2}" for i in range(48)]
    lines[10] = '"quoted start\t1'
    lines[15] = 'end" here\t0'
    path = tmp_path / "rows.tsv"
    path.write_text("text\tlabel\n" + "\n".join(lines) + "\n")
    split = load(path)
    assert len(split.examples) == 48 and split.examples["text"][10] == '"quoted start'
    assert split.examples["text"][15] == 'end" here'
    quoted = load_file(path, "--test_file", cache_dir=str(tmp_path / "cache2"), quoting="csv")
    assert len(quoted.examples) == 43  # what csv quoting means, when asked for with --quoting csv


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", "", r"empty.csv is empty: it holds no rows"),
        ("empty.jsonl", "\n  \n", r"empty.jsonl is empty: it holds no rows"),
        ("header.csv", "text,label\n", r"header.csv has a header line \(text, label\) but no rows"),
    ],
)
def test_empty_and_header_only_files_say_so(tmp_path, name, content, message, skip):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataValidationError, match=rf"--test_file .*{message}"):
        load(path, skip=skip)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_text_in_another_encoding_names_the_line_and_the_encoding_flag(tmp_path, suffix):
    path = tmp_path / f"latin1{suffix}"
    text = (
        '{"text": "plain"}\n{"text": "fine"}\n{"text": "caf\u00e9 cr\u00e8me"}\n'
        if suffix == ".jsonl"
        else "text\nplain\nfine\ncaf\u00e9 cr\u00e8me\n"
    )
    path.write_bytes(text.encode("latin-1"))
    line = 3 if suffix == ".jsonl" else 4
    with pytest.raises(DataValidationError, match=rf"latin1{suffix}, line {line}: not valid utf-8 text.*--encoding"):
        load(path)
    with pytest.raises(DataValidationError, match=rf"line {line}: not valid utf-8"):
        load(path, skip=True)  # a wrong encoding is not a bad row: every later row may be garbled too
    assert load(path, encoding="latin-1").examples["text"][-1] == "caf\u00e9 cr\u00e8me"


def test_unknown_encoding_is_named(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a"}\n')
    with pytest.raises(DataLoadingError, match="--encoding 'klingon' is not an encoding Python knows"):
        load(path, encoding="klingon")
