"""Loading raw splits: every local format, unparsable rows located or skipped, Hub names offline, row
checks."""

from __future__ import annotations

import time

import pytest
from datasets import Dataset, DatasetDict

from transfuse.data import loading
from transfuse.data.loading import DataLoadingError, check_file_format, load_file, load_splits
from transfuse.data.validation import BadRow, DataValidationError, check_columns, drop_bad_rows

ROWS = {"text": ["good", "bad", "fine"], "label": [1, 0, 1]}


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_every_local_format_loads_the_same_rows(tmp_path, suffix):
    path = tmp_path / f"train{suffix}"
    data = Dataset.from_dict(ROWS)
    if suffix in (".csv", ".tsv"):
        data.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    elif suffix == ".parquet":
        data.to_parquet(path)
    else:
        data.to_json(path)  # JSON Lines, which the `json` builder also reads under a .json name
    split = load_file(path, "--train_file", cache_dir=str(tmp_path / "cache"))
    assert split.examples[:] == ROWS and split.source == str(path) and split.skipped.skipped == 0


def test_missing_file_and_unknown_extension_name_the_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match="--validation_file .*nope.jsonl.*no such file"):
        load_file(tmp_path / "nope.jsonl", "--validation_file")
    with pytest.raises(ValueError, match="--train_file 'data.xlsx' has an unsupported extension; use one of .csv"):
        check_file_format("data.xlsx", "--train_file")


def test_unparsable_json_line_is_located_or_skipped(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 0\n{"text": "c", "label": 1}\n')
    with pytest.raises(DataValidationError, match=r"train.jsonl, line 2: the row does not parse as json"):
        load_file(path, "--train_file", cache_dir=str(tmp_path / "cache"))
    split = load_file(path, "--train_file", skip_bad_rows=True, cache_dir=str(tmp_path / "cache"))
    assert split.examples["text"] == ["a", "c"]
    assert split.skipped.to_dict()["reasons"] == {"row does not parse": 1} and split.skipped.total_rows == 3


def test_csv_row_with_extra_fields_is_located_or_skipped(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\na,1\nb,0,surprise\nc,1\n")
    with pytest.raises(DataValidationError, match=r"train.csv, line 3: .*expected 2 fields as in the header, saw 3"):
        load_file(path, "--train_file", cache_dir=str(tmp_path / "cache"))
    split = load_file(path, "--train_file", skip_bad_rows=True, cache_dir=str(tmp_path / "cache"))
    assert split.examples["text"] == ["a", "c"] and split.skipped.skipped == 1


def test_missing_column_lists_the_existing_ones():
    data = Dataset.from_dict({"sentence": ["a"], "label": [1]})
    with pytest.raises(
        DataValidationError,
        match=r"column 'text' \(set by --text_column\) does not exist.*"
        r"The columns are: 'sentence', 'label'",
    ):
        check_columns(data, {"text": "--text_column", "label": "--label_column"}, "train.csv")


def test_bad_rows_raise_with_source_row_and_column_or_are_counted():
    data = Dataset.from_dict({"text": ["a", "", "c", None], "label": [1, 0, 1, 0]})
    bad = [BadRow(1, "text", "empty text"), BadRow(3, "text", "missing text (null)")]
    with pytest.raises(DataValidationError, match=r"(?s)train.csv, row 2, column 'text': empty text.*--skip_bad_rows"):
        drop_bad_rows(data, bad, "train.csv", skip=False)
    kept, report = drop_bad_rows(data, bad, "train.csv", skip=True)
    assert kept["text"] == ["a", "c"]
    assert report.summary() == (
        "skipped 2 of 4 rows of train.csv: 1 x empty text in column 'text'; 1 x missing text (null) in column 'text'"
    )


def test_hub_dataset_goes_through_load_dataset(monkeypatch):
    calls = []
    hub = DatasetDict({"train": Dataset.from_dict(ROWS), "validation": Dataset.from_dict(ROWS)})
    monkeypatch.setattr(loading, "hub_unreachable_reason", lambda: None)
    monkeypatch.setattr(loading.datasets, "load_dataset", lambda *args, **kwargs: calls.append(args) or hub)
    splits = load_splits({"train": None, "validation": None}, dataset_name="glue", dataset_config="sst2")
    assert calls == [("glue", "sst2")]
    assert splits["validation"].source == "glue/sst2 [validation]" and len(splits["train"].examples) == 3
    with pytest.raises(DataLoadingError, match="has no split 'test'; its splits are 'train', 'validation'"):
        load_splits({"test": None}, dataset_name="glue", dataset_config="sst2")


def test_unreachable_hub_fails_fast_with_the_way_out(monkeypatch):
    monkeypatch.setattr(loading, "hub_unreachable_reason", lambda: "huggingface.co:443: Name or service not known")
    start = time.perf_counter()
    with pytest.raises(DataLoadingError, match="Hub is unreachable.*--train_file.*HF_DATASETS_OFFLINE=1"):
        load_splits({"train": None}, dataset_name="glue", dataset_config="sst2")
    assert time.perf_counter() - start < 1.0


def test_offline_mode_without_a_cached_copy_explains_itself(monkeypatch, tmp_path):
    monkeypatch.setattr(loading.datasets.config, "HF_HUB_OFFLINE", True)  # the suite runs offline; say so
    with pytest.raises(DataLoadingError, match="not in the local cache.*--train_file"):
        load_splits({"train": None}, dataset_name="glue", dataset_config="sst2", cache_dir=str(tmp_path))
