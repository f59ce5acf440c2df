"""The run folder: what a finished `transfuse train` leaves next to the weights, and the guard around it.

A run folder holds the model (or adapter) and tokenizer, plus:

* `metrics.json`: the final train / eval metrics (per-class reports included), rows skipped, and the command;
  its presence marks the run as finished, so a second run into the same folder refuses unless
  `--overwrite_output_dir`;
* `README.md`: a model card whose metadata carries the eval metrics in the Hub's `model-index` format
  (written with `huggingface_hub.ModelCard`) and whose text gives the exact command that made the run;
* `loss_curve.png`: training and evaluation loss against the step (matplotlib, headless Agg backend).

`transfuse predict` writes its outputs with `write_jsonl`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers.trainer_utils import get_last_checkpoint

from ..tasks.base import NOT_QUALITY
from .checkpointing import is_complete_checkpoint, last_complete_checkpoint

METRICS_FILE = "metrics.json"
MODEL_CARD_FILE = "README.md"
LOSS_CURVE_FILE = "loss_curve.png"
AUTO_RESUME = ("auto", "last", "true", "True")


def check_output_dir(output_dir: str | Path, overwrite: bool, resume_from_checkpoint: str | None) -> None:
    """Refuse to run into a folder that holds a finished run, or half a run nobody asked to resume."""
    output_dir = Path(output_dir)
    if overwrite or not output_dir.is_dir():
        return
    if (output_dir / METRICS_FILE).is_file():
        raise FileExistsError(
            f"--output_dir {str(output_dir)!r} already holds a finished run ({METRICS_FILE}). Choose another "
            "--output_dir, or pass --overwrite_output_dir to replace it."
        )
    if get_last_checkpoint(str(output_dir)) and not resume_from_checkpoint:
        raise FileExistsError(
            f"--output_dir {str(output_dir)!r} holds checkpoints of an unfinished run. Pass "
            "--resume_from_checkpoint auto to continue it, or --overwrite_output_dir to start over."
        )


def resolve_checkpoint(output_dir: str | Path, resume_from_checkpoint: str | None) -> str | None:
    """`--resume_from_checkpoint auto` -> the last `checkpoint-N` in `output_dir`; a path is checked to
    exist."""
    if not resume_from_checkpoint:
        return None
    if resume_from_checkpoint in AUTO_RESUME:
        last = last_complete_checkpoint(output_dir)  # never a checkpoint whose save was cut short
        if last is None:
            raise FileNotFoundError(
                f"--resume_from_checkpoint {resume_from_checkpoint}: no checkpoint-N folder in "
                f"{str(output_dir)!r} to resume from; drop the flag to start a new run."
            )
        return last
    if not Path(resume_from_checkpoint).is_dir():
        raise FileNotFoundError(
            f"--resume_from_checkpoint {resume_from_checkpoint!r}: no such checkpoint folder."
        )
    if not is_complete_checkpoint(resume_from_checkpoint):
        raise ValueError(
            f"--resume_from_checkpoint {resume_from_checkpoint!r} is incomplete (no whole "
            "trainer_state.json: the run was killed while saving it); pass --resume_from_checkpoint auto "
            "to take the last complete one."
        )
    return resume_from_checkpoint


def write_metrics(output_dir: str | Path, metrics: Mapping[str, Any]) -> Path:
    path = Path(output_dir) / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def plot_loss_curves(log_history: list[dict[str, Any]], path: str | Path) -> Path:
    """Training loss (every logging step) and evaluation loss (every evaluation) against the global step."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    train = [(entry["step"], entry["loss"]) for entry in log_history if "loss" in entry and "step" in entry]
    evals = [(entry["step"], entry["eval_loss"]) for entry in log_history if "eval_loss" in entry]
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for points, label, style in ((train, "training loss", "-"), (evals, "evaluation loss", "o-")):
        if points:
            steps, losses = zip(*points)
            axes.plot(steps, losses, style, label=label)
    if not train and not evals:
        axes.text(
            0.5,
            0.5,
            "no loss logged: lower --logging_steps",
            ha="center",
            va="center",
            transform=axes.transAxes,
        )
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    if train or evals:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def quality_metrics(metrics: Mapping[str, Any], prefix: str = "eval_") -> dict[str, float]:
    """The scalar quality metrics of one Trainer metrics dict, without prefix, speed and loss entries."""
    return {
        key[len(prefix) :]: float(value)
        for key, value in metrics.items()
        if key.startswith(prefix)
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not key[len(prefix) :].endswith(NOT_QUALITY)
        and math.isfinite(value)
    }


CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

## Results

Scores on {{ dataset_name }} ({{ split }}):

| metric | value |
|---|---|
{% for name, value in metrics.items() %}| {{ name }} | {{ "%.4f" | format(value) }} |
{% endfor %}

## How it was made

```bash
{{ command }}
```

## Training hyper-parameters

{% for name, value in hyperparameters.items() %}- {{ name }}: {{ value }}
{% endfor %}

## How to use it

```python
{{ usage }}
```
"""


def write_model_card(
    output_dir: str | Path,
    *,
    task_type: str,
    metrics: Mapping[str, float],
    command: str,
    dataset_name: str,
    split: str = "validation",
    train_dataset: str | None = None,
    base_model: str | None = None,
    adapter: str | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
) -> Path:
    """Write `README.md` with `model-index` metrics (task `task_type`) on `dataset_name`'s `split`, what it was
    trained on (`train_dataset`), the command and how to load the model."""
    output_dir = Path(output_dir)
    model_name = output_dir.resolve().name
    eval_results = [
        EvalResult(
            task_type=task_type,
            dataset_type=dataset_name,
            dataset_name=dataset_name,
            dataset_split=split,
            metric_type=name,
            metric_name=name,
            metric_value=round(value, 6),
        )
        for name, value in metrics.items()
    ]
    tags = ["transfuse", task_type] + ([adapter, "peft"] if adapter else [])
    card_data = ModelCardData(
        model_name=model_name,
        eval_results=eval_results or None,
        library_name="peft" if adapter else "transformers",
        pipeline_tag=task_type,
        tags=tags,
        base_model=base_model if base_model and not Path(base_model).is_dir() else None,
    )
    source = f"`{base_model}`" if base_model else "a transfuse Transformer trained from scratch"
    description = (
        f"A {task_type} model fine-tuned from {source}"
        + (f" with a {adapter} adapter" if adapter else "")
        + f" with transfuse on {train_dataset or dataset_name}."
    )
    if adapter:
        usage = (
            "from transfuse.adapters import load_for_inference\n"
            f"model = load_for_inference({str(output_dir)!r})  # base model + adapter + task head"
        )
    else:
        usage = (
            "import transfuse  # registers the transfuse model type (or pass trust_remote_code=True)\n"
            "from transformers import pipeline\n"
            f"classifier = pipeline({task_type!r}, model={str(output_dir)!r})"
        )
    card = ModelCard.from_template(
        card_data,
        template_str=CARD_TEMPLATE,
        model_name=model_name,
        description=description,
        dataset_name=dataset_name,
        split=split,
        metrics=dict(metrics),
        command=command,
        hyperparameters=dict(hyperparameters or {}),
        usage=usage,
    )
    path = output_dir / MODEL_CARD_FILE
    card.save(path)
    return path


__all__ = [
    "LOSS_CURVE_FILE",
    "METRICS_FILE",
    "MODEL_CARD_FILE",
    "check_output_dir",
    "plot_loss_curves",
    "quality_metrics",
    "resolve_checkpoint",
    "write_jsonl",
    "write_metrics",
    "write_model_card",
]
