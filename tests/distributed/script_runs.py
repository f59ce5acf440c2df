"""How the multi-process tests run `scripts/run_classification.py`: its arguments (a tiny, dropout-free model on
the demo data shipped in the package) and a quiet, isolated environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import transfuse

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "run_classification.py"
PROBE = Path(__file__).with_name("launch_probe.py")
BIN = Path(sys.executable).parent
DATA = Path(transfuse.__file__).parent / "data"
EVAL_EXAMPLES = 37  # odd: the last evaluation batch is padded with duplicates across the 2 processes


def classification_args(output_dir: Path, batch_size: int) -> list[str]:
    return [
        "--train_file",
        str(DATA / "demo_sentiment_train.jsonl"),
        "--validation_file",
        str(DATA / "demo_sentiment_validation.jsonl"),
        "--preset",
        "tiny",
        "--vocab_size",
        "300",
        "--max_seq_length",
        "32",
        "--config_overrides",
        "hidden_dropout_prob=0,attention_dropout=0,classifier_dropout=0",
        "--max_train_samples",
        "64",
        "--max_eval_samples",
        str(EVAL_EXAMPLES),
        "--max_steps",
        "4",
        "--save_steps",
        "2",
        "--logging_steps",
        "1",
        "--learning_rate",
        "1e-3",
        "--seed",
        "7",
        "--per_device_train_batch_size",
        str(batch_size),
        "--per_device_eval_batch_size",
        "8",
        "--fp32",
        "true",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
        "--output_dir",
        str(output_dir),
    ]


def quiet_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_DATASETS_CACHE": str(tmp_path / "datasets-cache"),
        "TRANSFUSE_TRACEBACK": "1",
        **extra,
    }
