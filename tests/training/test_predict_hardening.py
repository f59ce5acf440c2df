"""`transfuse predict` and `evaluate` on what users actually feed them: unparsable and non-string rows keep the line
order, outputs never replace an input or another run's file, the run's own length settings are used, and a model
path that is missing, empty or damaged is named before anything is loaded."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from conftest import TINY_RUN_FLAGS, make_sentiment_rows, write_split
from transfuse.tasks.classification import ClassificationTask
from transfuse.training import parse_arguments, workflow

PREDICT_FLAGS = ["--fp32", "--per_device_eval_batch_size", "1", "--disable_tqdm", "true"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny classifier trained with --max_seq_length 32 (the `tiny` preset holds 64 positions)."""
    root = tmp_path_factory.mktemp("predict")
    train_file = write_split(root / "train.jsonl", make_sentiment_rows(48, seed=0))
    argv = [
        "--train_file",
        train_file,
        *TINY_RUN_FLAGS,
        "--output_dir",
        str(root / "run"),
        "--cache_dir",
        str(root / "cache"),
    ]
    workflow.train("classification", parse_arguments(ClassificationTask, argv), "transfuse train")
    return root / "run"


def predict(run: Path, test_file: Path, output: Path, *flags: str) -> list[dict]:
    argv = [
        "--model_name_or_path",
        str(run),
        "--test_file",
        str(test_file),
        "--output_file",
        str(output),
        "--cache_dir",
        str(test_file.parent / "cache"),
        *PREDICT_FLAGS,
        *flags,
    ]
    return workflow.predict("classification", parse_arguments(ClassificationTask, argv))


def texts(n: int) -> list[str]:
    rows = make_sentiment_rows(n, seed=3)["text"]
    return [f"{text} number {i}" for i, text in enumerate(rows)]  # every row distinct: distinct scores


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_line_i_answers_row_i_with_unparsable_and_unusable_rows(run, tmp_path, suffix):
    """16 rows in, 16 lines out: row 5 does not parse, row 9 has no usable text; every other line holds exactly
    the prediction its own row gets alone."""
    rows = texts(16)
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps({"text": text}) + "\n" for text in rows))
    expected = predict(run, clean, tmp_path / "clean.out.jsonl")
    assert len({row["score"] for row in expected}) == 16  # the test can tell the rows apart
    if suffix == ".jsonl":
        lines = [json.dumps({"text": text}) for text in rows]
        lines[5] = '{"text": "cut short'
        lines[9] = json.dumps({"text": 42})
    else:
        lines = ["text"] + [f'"{text}"' for text in rows]
        lines[1 + 5] = f"{rows[5]},an extra field"
        lines[1 + 9] = '""'
    dirty = tmp_path / f"dirty{suffix}"
    dirty.write_text("\n".join(lines) + "\n")
    written = tmp_path / "dirty.out.jsonl"
    returned = predict(run, dirty, written, "--skip_bad_rows")
    output = [json.loads(line) for line in written.read_text().splitlines()]
    assert output == returned and len(output) == 16
    for i in range(16):
        if i == 5:
            assert output[i] == {
                "error": "row 6: row does not parse (line "
                f"{6 if suffix == '.jsonl' else 7}: " + output[i]["error"].split(": ", 2)[2]
            }
        elif i == 9:
            assert output[i]["error"].startswith("row 10, column 'text': ")
            assert ("not a string (got int 42)" if suffix == ".jsonl" else "missing text") in output[i]["error"]
        else:
            assert output[i] == expected[i], i


def test_output_file_is_never_the_input_nor_silently_replaced(run, tmp_path, monkeypatch):
    test_file = tmp_path / "rows.jsonl"
    test_file.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts(3)))
    before = test_file.read_text()
    load = workflow.load_for_evaluation
    monkeypatch.setattr(workflow, "load_for_evaluation", lambda *a, **k: pytest.fail("model loaded first"))
    with pytest.raises(ValueError, match="--output_file .* is the input file"):
        predict(run, test_file, test_file, "--overwrite_output_file")
    assert test_file.read_text() == before
    output = tmp_path / "out.jsonl"
    output.write_text("another run's predictions\n")
    with pytest.raises(FileExistsError, match="--output_file .* already exists.*--overwrite_output_file"):
        predict(run, test_file, output)
    assert output.read_text() == "another run's predictions\n"
    monkeypatch.setattr(workflow, "load_for_evaluation", load)
    predict(run, test_file, output, "--overwrite_output_file")
    assert len(output.read_text().splitlines()) == 3
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")]  # no temporary file left


def test_predict_and_evaluate_truncate_as_training_did(run, tmp_path, caplog):
    """The run was trained with --max_seq_length 32 on 64 positions; predict's default 128 used to overflow."""
    long_text = " ".join(["the film was good and the plot was fine"] * 12)  # ~100 tokens
    rows = {"text": [long_text, "the film was bad"], "label": ["pos", "neg"]}
    test_file = Path(write_split(tmp_path / "long.jsonl", rows))
    with caplog.at_level(logging.INFO, logger="transfuse"):
        outputs = predict(run, test_file, tmp_path / "out.jsonl")
    assert len(outputs) == 2 and all("label" in row for row in outputs)
    assert "1 of 2 rows of" in caplog.text and "truncated to 32 tokens" in caplog.text
    argv = [
        "--model_name_or_path",
        str(run),
        "--validation_file",
        str(test_file),
        *PREDICT_FLAGS,
        "--cache_dir",
        str(tmp_path / "cache"),
    ]
    results = workflow.evaluate("classification", parse_arguments(ClassificationTask, argv))
    assert results["truncated_rows"] == 1 and results["max_seq_length"] == 32


def test_non_string_text_with_skip_bad_rows_names_row_column_and_value(run, tmp_path):
    test_file = tmp_path / "rows.jsonl"
    test_file.write_text('{"text": "the film was good"}\n{"text": ["a", "list"]}\n{"text": 3.5}\n')
    output = predict(run, test_file, tmp_path / "out.jsonl", "--skip_bad_rows")
    assert "label" in output[0]
    assert output[1] == {"error": "row 2, column 'text': text is not a string (got list ['a', 'list'])"}
    assert output[2] == {"error": "row 3, column 'text': text is not a string (got float 3.5)"}


# ---------------------------------------------------------------------------------------------------------
# --model_name_or_path that cannot be loaded: named at once, before any data or weights are read
# ---------------------------------------------------------------------------------------------------------


def _predict_with_model(model: str, tmp_path: Path) -> None:
    test_file = tmp_path / "rows.jsonl"
    test_file.write_text('{"text": "the film was good"}\n')
    predict(model, test_file, tmp_path / "out.jsonl")


@pytest.mark.parametrize(
    "model, error, message",
    [
        (
            "/nonexistent/model",
            FileNotFoundError,
            r"--model_name_or_path '/nonexistent/model': no such folder \(resolved to /nonexistent/model\)",
        ),
        ("./runs/missing", FileNotFoundError, r"--model_name_or_path './runs/missing': no such folder"),
        (
            "runs/missing",
            OSError,
            r"--model_name_or_path 'runs/missing' is neither a local folder \(resolved to .*\) "
            r"nor a Hub model in the local cache, and offline mode is on",
        ),
    ],
)
def test_missing_model_is_named_at_once(tmp_path, monkeypatch, model, error, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(error, match=message):
        _predict_with_model(model, tmp_path)


def test_empty_model_folder_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        FileNotFoundError,
        match=r"--model_name_or_path .*empty.* holds no config.json \(the folder is "
        r"empty\)",
    ):
        _predict_with_model(str(tmp_path / "empty"), tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "overwrite"])
def test_damaged_safetensors_is_named(run, tmp_path, damage):
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    weights = broken / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\0" * 8 + data[8:])
    with pytest.raises(
        OSError,
        match=r"broken/model.safetensors is damaged \(.*\): it was cut short or overwritten; "
        "copy it again, or train the run again",
    ):
        _predict_with_model(str(broken), tmp_path)
