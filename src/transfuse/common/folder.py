"""The run folder: what a finished `transfuse train` or `transfuse pretrain` leaves next to the weights, and the
guard around it.

A run folder holds the model (or adapter) and tokenizer, plus:

* `metrics.json`: the final train / eval metrics (per-class reports included), rows skipped, and the command;
  its presence marks the run as finished, so a second run into the same folder refuses unless
  `--overwrite_output_dir`, which moves the old folder aside (`NAME.replaced-DATE-TIME`) and starts empty;
* `README.md`: a model card whose metadata carries the eval metrics in the Hub's `model-index` format
  (written with `huggingface_hub.ModelCard`) and whose text gives the exact command that made the run;
* `loss_curve.png`: training and evaluation loss against the step (matplotlib, headless Agg backend);
* a task's own tokenizers in subfolders (translation's `target_tokenizer/`): `extra_tokenizer_folders` finds
  them, so `transfuse push` and `transfuse merge` carry them along without naming the task.

`transfuse predict` writes its outputs with `transfuse.data.outputs.write_jsonl` (atomic; re-exported here).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelerate import PartialState
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from transformers.trainer_utils import get_last_checkpoint

from ..data.outputs import write_jsonl
from ..distributed import is_main_process
from ..hub import known_secrets, redact_secrets
from ..tasks.base import NOT_QUALITY
from .checkpointing import is_complete_checkpoint, last_complete_checkpoint

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
MODEL_CARD_FILE = "README.md"
LOSS_CURVE_FILE = "loss_curve.png"
AUTO_RESUME = ("auto", "last", "true", "True")


def extra_tokenizer_folders(run_dir: str | Path) -> list[Path]:
    """The subfolders of a run folder that hold a tokenizer of their own (translation's `target_tokenizer/`),
    other than `base/` (an adapter run's base model) and the `checkpoint-*` folders."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(
        sub
        for sub in run_dir.iterdir()
        if sub.is_dir()
        and sub.name != "base"
        and not sub.name.startswith("checkpoint-")
        and (sub / "tokenizer_config.json").is_file()
    )


def check_output_dir(output_dir: str | Path, overwrite: bool, resume_from_checkpoint: str | None) -> None:
    """Refuse to run into a folder that holds a finished run, or half a run nobody asked to resume.

    With `overwrite`, a folder that holds anything is moved aside (to `NAME.replaced-DATE-TIME`, logged) so that
    the new run starts from an empty folder: no checkpoint of the old run can be resumed by mistake later.
    """
    output_dir = Path(output_dir)
    if overwrite:
        if resume_from_checkpoint:
            raise ValueError(
                f"--overwrite_output_dir starts a new run in {str(output_dir)!r} but --resume_from_checkpoint "
                f"{resume_from_checkpoint} continues the old one; pass one of the two."
            )
        _move_aside(output_dir)
        return
    if not output_dir.is_dir():
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


def _move_aside(output_dir: Path) -> Path | None:
    """Rename a non-empty `output_dir` to a free `NAME.replaced-YYYYmmdd-HHMMSS[-N]` beside it (main process only;
    the others wait for it). Returns where it went, or None when there was nothing to move."""
    resolved, here = output_dir.resolve(), Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise ValueError(
            f"--output_dir {str(output_dir)!r} is the current folder (or holds it); --overwrite_output_dir would "
            "move it aside. Name a subfolder, e.g. --output_dir runs/NAME."
        )
    moved = None
    with PartialState().main_process_first():
        if is_main_process() and output_dir.is_dir() and any(output_dir.iterdir()):
            stamp = time.strftime("%Y%m%d-%H%M%S")
            moved = output_dir.with_name(f"{output_dir.name}.replaced-{stamp}")
            number = 1
            while moved.exists():
                moved, number = output_dir.with_name(f"{output_dir.name}.replaced-{stamp}-{number}"), number + 1
            os.rename(output_dir, moved)
            logger.warning(
                "--overwrite_output_dir: moved the run in --output_dir %r aside to %r (delete it once you no longer "
                "need it); the new run starts from an empty folder",
                str(output_dir),
                str(moved),
            )
    return moved


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
        raise FileNotFoundError(f"--resume_from_checkpoint {resume_from_checkpoint!r}: no such checkpoint folder.")
    if not is_complete_checkpoint(resume_from_checkpoint):
        raise ValueError(
            f"--resume_from_checkpoint {resume_from_checkpoint!r} is incomplete (no whole "
            "trainer_state.json: the run was killed while saving it); pass --resume_from_checkpoint auto "
            "to take the last complete one."
        )
    return resume_from_checkpoint


def write_metrics(output_dir: str | Path, metrics: Mapping[str, Any]) -> Path:
    """`metrics.json`, with every known Hub token (and any `--*token*` value in the command) masked."""
    path = Path(output_dir) / METRICS_FILE
    text = json.dumps(_redacted(metrics, known_secrets()), indent=2, sort_keys=True, default=str) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def _redacted(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` with every string in it redacted (the JSON stays valid: quotes are never part of a match)."""
    if isinstance(value, str):
        return redact_secrets(value, secrets)
    if isinstance(value, Mapping):
        return {key: _redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item, secrets) for item in value]
    return value


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


# The variable a usage snippet binds its pipeline to, by pipeline tag.
PIPELINE_VARIABLES = {
    "text-classification": "classifier",
    "token-classification": "tagger",
    "question-answering": "answerer",
    "translation": "translator",
    "summarization": "summarizer",
    "text-generation": "generator",
    "text2text-generation": "generator",
    "fill-mask": "unmasker",
}


def base_card_metadata(base_model: str | None) -> dict[str, Any]:
    """The metadata of the base model's own card (local folder, or a Hub model in the local cache), e.g. its
    `license`; empty when there is none. Never contacts the Hub."""
    if not base_model:
        return {}
    card_file: str | Path | None = Path(base_model) / MODEL_CARD_FILE
    if not Path(base_model).is_dir():
        from huggingface_hub import try_to_load_from_cache

        try:
            card_file = try_to_load_from_cache(base_model, MODEL_CARD_FILE)
        except ValueError:  # not a valid repo id either
            card_file = None
    if not isinstance(card_file, (str, Path)) or not Path(card_file).is_file():
        return {}
    return ModelCard.load(card_file, ignore_metadata_errors=True).data.to_dict()


def usage_snippet(task_type: str, model_dir: str | Path, transfuse_model: bool, adapter: bool = False) -> str:
    """Python that loads `model_dir` with the `task_type` pipeline (a variable named for what it does)."""
    variable = PIPELINE_VARIABLES.get(task_type, "pipe")
    where = repr(str(model_dir))
    lines = []
    if transfuse_model:
        lines.append("import transfuse  # registers the transfuse model type (or pass trust_remote_code=True)")
    lines += ["from transformers import pipeline", "", f"{variable} = pipeline({task_type!r}, model={where})"]
    if adapter:
        lines += [
            "",
            "# or the model itself: base model + adapter + task head",
            "from transfuse.adapters import load_for_inference",
            f"model = load_for_inference({where})",
        ]
    return "\n".join(lines)


def replace_section(body: str, title: str, text: str) -> str:
    """`body` with its `## {title}` section (up to the next `## ` heading) replaced by `text`, or `text` appended."""
    section = f"## {title}\n\n{text.strip()}\n\n"
    pattern = rf"(?ms)^## {re.escape(title)}\s*$.*?(?=^## |\Z)"
    if re.search(pattern, body):
        return re.sub(pattern, lambda _: section, body).rstrip() + "\n"
    return body.rstrip() + "\n\n" + section.rstrip() + "\n"


def _model_type(output_dir: Path) -> str | None:
    for config in (output_dir / "config.json", output_dir / "base" / "config.json"):
        if config.is_file():
            return json.loads(config.read_text(encoding="utf-8")).get("model_type")
    return None


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
    pretrained: bool = False,
    license: str | None = None,
) -> Path:
    """Write `README.md` with `model-index` metrics (task `task_type`) on `dataset_name`'s `split`, what it was
    trained on (`train_dataset`), the command and how to load the model.

    `pretrained` marks a language model pretrained (not fine-tuned) on the data. `base_model` is recorded as given
    for a Hub id, as an absolute path for a local folder; `license` defaults to the base's own card's.
    """
    output_dir = Path(output_dir)
    model_name = output_dir.resolve().name
    if base_model and Path(base_model).is_dir():
        base_model = str(Path(base_model).resolve())
    license = license or base_card_metadata(base_model).get("license")
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
        base_model=base_model,
        license=license,
        datasets=[train_dataset or dataset_name],
    )
    if pretrained:
        source = f"continued from `{base_model}`" if base_model else "from scratch"
        description = f"A {task_type} transfuse model pretrained on {train_dataset or dataset_name} {source}."
    else:
        source = f"`{base_model}`" if base_model else "a transfuse Transformer trained from scratch"
        description = (
            f"A {task_type} model fine-tuned from {source}"
            + (f" with a {adapter} adapter" if adapter else "")
            + f" with transfuse on {train_dataset or dataset_name}."
        )
    usage = usage_snippet(task_type, output_dir, _model_type(output_dir) == "transfuse", adapter=bool(adapter))
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
    path.write_text(redact_secrets(path.read_text(encoding="utf-8"), known_secrets()), encoding="utf-8")
    return path


__all__ = [
    "LOSS_CURVE_FILE",
    "METRICS_FILE",
    "MODEL_CARD_FILE",
    "base_card_metadata",
    "check_output_dir",
    "plot_loss_curves",
    "quality_metrics",
    "replace_section",
    "resolve_checkpoint",
    "usage_snippet",
    "write_jsonl",
    "write_metrics",
    "write_model_card",
]
