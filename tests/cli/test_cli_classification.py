"""The command line: `transfuse train|evaluate|predict classification` from flags and from YAML, the script
for
`accelerate launch`, `transfuse demo`, and the exit codes of bad input."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
import yaml

from transfuse.cli import demo
from transfuse.cli.main import main
from transfuse.data import demo_data_files
from transfuse.tasks.classification import ClassificationTask
from transfuse.training import parse_arguments

REPO = Path(__file__).resolve().parents[2]
TINY = {
    "preset": "tiny",
    "vocab_size": 300,
    "max_seq_length": 32,
    "max_steps": 2,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 64,
    "max_train_samples": 48,
    "max_eval_samples": 32,
    "save_strategy": "no",
    "disable_tqdm": True,
    "logging_steps": 1,
}


def flags(options: dict) -> list[str]:
    return [
        word
        for key, value in options.items()
        for word in (f"--{key}", str(value).lower() if isinstance(value, bool) else str(value))
    ]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """One run trained from flags, shared by the predict / evaluate tests."""
    out = tmp_path_factory.mktemp("cli") / "run"
    files = demo_data_files()
    code = main(
        [
            "train",
            "classification",
            "--train_file",
            files["train"],
            "--validation_file",
            files["validation"],
            *flags(TINY),
            "--output_dir",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_train_from_flags_writes_a_run_folder(trained_run, capsys):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["command"].startswith("transfuse train classification --train_file")
    assert {"accuracy", "f1_macro", "matthews_correlation", "per_class"} <= set(metrics["eval"])


def test_predict_writes_one_line_per_row_in_order(trained_run, tmp_path, capsys):
    test_file = tmp_path / "test.csv"
    test_file.write_text('text\nThe movie was wonderful.\n""\nWhat a boring plot!\nThe room was lovely.\n')
    out = tmp_path / "predictions.jsonl"
    argv = [
        "predict",
        "classification",
        "--model_name_or_path",
        str(trained_run),
        "--test_file",
        str(test_file),
        "--output_file",
        str(out),
    ]
    assert main(argv) == 2  # the empty row is refused ...
    assert "row 2, column 'text': missing text (null)" in capsys.readouterr().err
    assert main([*argv, "--skip_bad_rows"]) == 0  # ... or answered with an error line, keeping the order
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and rows[1] == {"error": "row 2, column 'text': missing text (null)"}
    for row in (rows[0], rows[2], rows[3]):
        assert row["label"] in ("negative", "positive") and row["score"] == max(row["scores"].values())
    assert "wrote 4 predictions (1 rows could not be read" in capsys.readouterr().out


def test_evaluate_prints_and_writes_metrics(trained_run, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "classification",
            "--model_name_or_path",
            str(trained_run),
            "--validation_file",
            demo_data_files()["validation"],
            "--max_eval_samples",
            "32",
            "--fp32",
            "--output_dir",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "(fp32)" in printed and "accuracy:" in printed and '"negative": {' in printed
    assert json.loads((out / "metrics.json").read_text())["eval_precision"] == "fp32"


def test_yaml_config_with_overriding_flags(tmp_path):
    files = demo_data_files()
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "train_file": files["train"],
                "validation_file": files["validation"],
                "output_dir": str(tmp_path / "yaml_run"),
                **TINY,
                "learning_rate": 1e-3,
            }
        )
    )
    args = parse_arguments(ClassificationTask, [str(config), "--learning_rate", "2e-3", "--max_steps", "1"])
    assert args.training.learning_rate == 2e-3 and args.training.max_steps == 1 and args.model.preset == "tiny"
    assert main(["train", "classification", str(config), "--max_steps", "1"]) == 0
    metrics = json.loads((tmp_path / "yaml_run" / "metrics.json").read_text())
    assert metrics["command"].endswith(f"{config} --max_steps 1")


def test_script_for_accelerate_launch_takes_the_same_arguments(tmp_path, monkeypatch):
    files = demo_data_files()
    out = tmp_path / "script_run"
    argv = ["--train_file", files["train"], *flags({**TINY, "max_steps": 1}), "--output_dir", str(out)]
    monkeypatch.setattr(sys, "argv", ["run_classification.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO / "scripts" / "run_classification.py"), run_name="__main__")
    assert exit_info.value.code == 0
    assert "run_classification.py train --train_file" in json.loads((out / "metrics.json").read_text())["command"]


def test_demo_runs_offline_and_uses_the_trained_model(tmp_path, monkeypatch, capsys):
    full = demo.demo_train_argv(str(tmp_path / "demo"))
    assert "--preset" in full and full[full.index("--preset") + 1] == "small"
    # the real demo trains a `small` model for a minute; here the same path runs with a tiny one
    monkeypatch.setattr(
        demo,
        "demo_train_argv",
        lambda output_dir: [
            "classification",
            "--train_file",
            demo_data_files()["train"],
            *flags(TINY),
            "--output_dir",
            output_dir,
            "--overwrite_output_dir",
        ],
    )
    assert demo.main(["--output_dir", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    assert "Predictions of the trained model" in printed and printed.count("tive (") == len(demo.SENTENCES)
    assert demo.main(["--output_dir", str(tmp_path / "demo")]) == 0  # a second demo replaces the first
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("demo")) == ["demo"]


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "nope"], 2, "Unknown task 'nope'"),
        (["train", "classification", "--output_dir", "x"], 2, "needs training data: --train_file"),
        (
            ["train", "classification", "--train_file", "a.txt"],
            2,
            "--train_file 'a.txt' has an unsupported extension",
        ),
        (
            ["train", "classification", "--train_file", "a.csv", "--adapter", "lora", "--output_dir", "x"],
            2,
            "no --model_name_or_path is given",
        ),
        (
            ["predict", "classification", "--model_name_or_path", "x", "--test_file", "t.csv"],
            2,
            "--output_file",
        ),
        (
            ["train", "classification", "--train_file", "missing.csv", "--output_dir", "x"],
            2,
            "--train_file 'missing.csv': no such file",
        ),
    ],
)
def test_bad_input_exits_with_a_message(argv, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    assert message in capsys.readouterr().err


def test_usage_lists_tasks_and_unknown_config_keys_get_suggestions(tmp_path, capsys):
    assert main(["train"]) == 0 and "tasks: classification" in capsys.readouterr().out
    config = tmp_path / "typo.yaml"
    config.write_text("train_file: a.csv\nlearning_rat: 0.1\n")
    with pytest.raises(ValueError, match="'learning_rat' \\(did you mean 'learning_rate'\\?\\)"):
        parse_arguments(ClassificationTask, [str(config)])


def test_unreachable_hub_model_fails_fast(tmp_path, monkeypatch, capsys):
    from transfuse.training import model_source

    monkeypatch.setattr(model_source, "offline_mode", lambda: False)
    monkeypatch.setattr(
        model_source, "hub_unreachable_reason", lambda: "huggingface.co:443: Name or service not known"
    )
    argv = [
        "train",
        "classification",
        "--train_file",
        demo_data_files()["train"],
        "--model_name_or_path",
        "org/some-bert",
        "--output_dir",
        str(tmp_path / "run"),
    ]
    assert main(argv) == 2
    assert (
        "'org/some-bert' is not a local folder (resolved to " in (err := capsys.readouterr().err)
        and "and the Hugging Face Hub is unreachable (huggingface.co:443" in err
    )
