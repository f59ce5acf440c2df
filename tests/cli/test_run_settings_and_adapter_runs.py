"""`evaluate` and `predict` take a run's task options (columns, lengths) from the run folder, check columns before
loading the model, and load an adapter run from any directory; a moved base is named with the flag that finds it.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import transformers
import yaml
from transformers import BertConfig, BertModel

from transfuse.cli.main import main
from transfuse.tasks.classification import ClassificationTask
from transfuse.tokenization import train_tokenizer
from transfuse.training import parse_arguments, workflow
from transfuse.training.task_settings import TASK_SETTINGS_FILE

WORDS = {"pos": ["good", "great", "fine", "nice"], "neg": ["bad", "awful", "dull", "weak"]}
QUICK = [
    "--max_steps",
    "2",
    "--per_device_train_batch_size",
    "8",
    "--save_strategy",
    "no",
    "--disable_tqdm",
    "true",
    "--logging_steps",
    "1",
]


def _pairs(path: Path, n: int, seed: int, with_pair: bool = True) -> str:
    """Sentence pairs in columns `text_a` / `text_b` with a `label`, as MRPC is laid out."""
    rng = random.Random(seed)
    with path.open("w") as handle:
        for _ in range(n):
            label = rng.choice(["pos", "neg"])
            row = {"text_a": f"the film was {rng.choice(WORDS[label])}", "label": label}
            if with_pair:
                row["text_b"] = f"it felt {rng.choice(WORDS[label])}"
            handle.write(json.dumps(row) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pairs")
    run = folder / "run"
    code = main(
        [
            "train",
            "classification",
            "--train_file",
            _pairs(folder / "train.jsonl", 24, 0),
            "--text_column",
            "text_a",
            "--text_pair_column",
            "text_b",
            "--preset",
            "tiny",
            "--vocab_size",
            "300",
            "--max_seq_length",
            "24",
            *QUICK,
            "--output_dir",
            str(run),
        ]
    )
    assert code == 0
    return run


def test_train_saves_the_task_options(pair_run):
    settings = json.loads((pair_run / TASK_SETTINGS_FILE).read_text())
    assert settings["task"] == "classification"
    assert settings["arguments"]["text_column"] == "text_a" and settings["arguments"]["text_pair_column"] == "text_b"
    assert settings["arguments"]["max_seq_length"] == 24


def test_evaluate_and_predict_reuse_the_runs_columns(pair_run, tmp_path, capsys):
    validation = _pairs(tmp_path / "validation.jsonl", 8, 1)
    assert (
        main(["evaluate", "classification", "--model_name_or_path", str(pair_run), "--validation_file", validation])
        == 0
    )
    assert "accuracy:" in capsys.readouterr().out
    out = tmp_path / "predictions.jsonl"
    assert (
        main(
            [
                "predict",
                "classification",
                "--model_name_or_path",
                str(pair_run),
                "--test_file",
                validation,
                "--output_file",
                str(out),
            ]
        )
        == 0
    )
    assert len(out.read_text().splitlines()) == 8


def test_flags_and_config_files_override_the_runs_options(pair_run, tmp_path):
    validation = _pairs(tmp_path / "validation.jsonl", 4, 1)
    argv = ["--model_name_or_path", str(pair_run), "--validation_file", validation]
    args = parse_arguments(ClassificationTask, argv, "evaluate")
    assert (args.task.text_column, args.task.text_pair_column, args.data.max_seq_length) == ("text_a", "text_b", 24)
    args = parse_arguments(ClassificationTask, [*argv, "--text_column", "other", "--max_seq_length", "16"], "evaluate")
    assert (args.task.text_column, args.task.text_pair_column, args.data.max_seq_length) == ("other", "text_b", 16)
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"model_name_or_path": str(pair_run), "text_pair_column": "second"}))
    args = parse_arguments(ClassificationTask, [str(config), "--validation_file", validation], "evaluate")
    assert (args.task.text_column, args.task.text_pair_column) == ("text_a", "second")
    args = parse_arguments(ClassificationTask, ["--train_file", validation, *argv[:2]], "train")
    assert args.task.text_column == "text"  # training a new run starts from the defaults


def test_columns_are_checked_before_the_model_is_loaded(pair_run, tmp_path, monkeypatch, capsys):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the columns were checked")

    monkeypatch.setattr(workflow, "load_for_evaluation", never)
    no_pair = _pairs(tmp_path / "validation.jsonl", 4, 1, with_pair=False)
    code = main(["evaluate", "classification", "--model_name_or_path", str(pair_run), "--validation_file", no_pair])
    assert code == 2
    assert "text_b" in capsys.readouterr().err


def test_adapter_run_loads_anywhere_and_a_moved_base_is_named(tmp_path, monkeypatch, capsys):
    texts = [f"the film was {w}" for ws in WORDS.values() for w in ws]
    tokenizer = train_tokenizer(texts, kind="wordpiece", vocab_size=100, min_frequency=1, show_progress=False)
    BertModel(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            pad_token_id=tokenizer.pad_token_id,
        )
    ).save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    data = _pairs(tmp_path / "train.jsonl", 16, 0, with_pair=False)
    monkeypatch.chdir(tmp_path)  # the base and the run given by relative paths
    assert (
        main(
            [
                "train",
                "classification",
                "--train_file",
                "train.jsonl",
                "--text_column",
                "text_a",
                "--model_name_or_path",
                "bert",
                "--adapter",
                "lora",
                "--lora_r",
                "4",
                *QUICK,
                "--output_dir",
                "lora",
            ]
        )
        == 0
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    run = str(tmp_path / "lora")
    classify = transformers.pipeline("text-classification", model=run)
    assert {row["label"] for row in classify(["the film was good", "the film was dull"])} <= {"pos", "neg"}
    evaluate = ["evaluate", "classification", "--model_name_or_path", run, "--validation_file", data]
    assert main(evaluate) == 0
    capsys.readouterr()
    shutil.move(tmp_path / "bert", tmp_path / "moved-bert")
    assert main(evaluate) == 2
    error = capsys.readouterr().err
    assert str(tmp_path / "bert") in error and "--base_model_name_or_path" in error
    assert main([*evaluate, "--base_model_name_or_path", str(tmp_path / "moved-bert")]) == 0
