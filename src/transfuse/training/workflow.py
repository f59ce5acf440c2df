"""The three commands of every task, start to finish: `train`, `evaluate` and `predict`.

Each runs the same pipeline, stopping where its job ends:

    check arguments -> load splits -> check columns and rows -> labels (fit / from the model config)
      -> model + tokenizer -> features -> Trainer -> train -> evaluate -> predict -> run folder / outputs

Everything that can fail on bad input (arguments, files, columns, rows, an occupied output folder) fails
before the model is built. The command-line front-ends (`transfuse.cli`) and `scripts/run_<task>.py` only
parse arguments and call these functions, so both behave the same under `accelerate launch`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers.modeling_utils import unwrap_model

from ..adapters import save_for_inference
from ..adapters.callbacks import adapter_callbacks
from ..common.builder import preset_name
from ..common.folder import (
    LOSS_CURVE_FILE,
    check_output_dir,
    plot_loss_curves,
    resolve_checkpoint,
    write_metrics,
    write_model_card,
)
from ..data.loading import SPLIT_FLAGS, RawSplit, load_splits
from ..data.outputs import check_output_file, publish_new
from ..data.validation import SkipReport, check_columns, drop_bad_rows, log_skips
from ..distributed import check_world_size, with_launcher
from ..hub import take_over_push_to_hub
from ..tasks import Task, get_task_class
from .arguments import DataArguments, ParsedArguments, check_arguments
from .callbacks import StopAfterMinutes, StopOnNonFiniteLoss
from .models import LoadedModel, load_for_evaluation, load_for_training
from .plan import TrainingPlanCallback
from .precision import eval_precision_name, use_bf16_inference
from .task_settings import write_task_settings
from .trainer import build_trainer, feature_lengths

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = "trainer_output"  # what TrainingArguments substitutes when --output_dir is not given
LARGE_LENGTH = 1_000_000  # a tokenizer without a length limit says model_max_length=1e30


@dataclass
class PreparedData:
    """Clean examples per split, where they came from, and what was skipped."""

    examples: dict[str, Dataset]
    sources: dict[str, str]
    skipped: list[SkipReport] = field(default_factory=list)


def make_task(task_name: str, args: ParsedArguments) -> Task:
    return get_task_class(task_name)(
        args.task, max_seq_length=args.data.max_seq_length, num_proc=args.data.preprocessing_num_workers
    )


def load_raw_splits(task: Task, args: ParsedArguments, splits: list[str]) -> dict[str, RawSplit]:
    """The raw examples of `splits`: files in a format of the task's own through `task.read_file`, the rest
    (csv / tsv / json / jsonl / parquet files, or a Hub dataset) through `transfuse.data.loading`."""
    data = args.data
    files = {split: path for split, path in data.files().items() if split in splits}
    own = {split: path for split, path in files.items() if path is not None and task.handles_file(path)}
    raw = load_splits(
        {split: None if split in own else path for split, path in files.items()},
        data.dataset_name,
        data.dataset_config,
        data.split_names(),
        data.skip_bad_rows,
        data.cache_dir,
        encoding=data.encoding,
        quoting=data.quoting,
    )
    for split, path in own.items():
        raw[split] = task.read_file(path, SPLIT_FLAGS[split], data.skip_bad_rows)
    return raw


def prepare_data(
    task: Task, args: ParsedArguments, splits: list[str], raw: dict[str, RawSplit] | None = None
) -> PreparedData:
    """Load `splits` (or take them already loaded: `raw`), check their columns and rows, and fit the task on the
    training split if there is one.

    Rows are checked in order train -> validation, so a label unseen in training is caught in validation
    (whose labels come from the model's config when there is no training split).
    """
    data = args.data
    raw = load_raw_splits(task, args, splits) if raw is None else raw
    limits = {"train": data.max_train_samples, "validation": data.max_eval_samples}
    prepared = PreparedData(examples={}, sources={})
    for split in ("train", "validation"):
        if split not in raw:
            continue
        examples, source = raw[split].examples, raw[split].source
        if limits.get(split):
            examples = examples.select(range(min(limits[split], len(examples))))
        check_columns(examples, task.required_columns(split), source)
        bad_rows = task.find_bad_rows(examples, split)
        examples, report = drop_bad_rows(examples, bad_rows, source, data.skip_bad_rows, raw[split].skipped)
        if len(examples) == 0:
            raise ValueError(f"{source} has no usable rows left (of {report.total_rows}); check the file and columns.")
        if split == "train":
            task.fit(examples)
        prepared.examples[split], prepared.sources[split] = examples, source
        prepared.skipped.append(report)
    log_skips(prepared.skipped)
    return prepared


def _preprocess(task: Task, args: ParsedArguments, loaded: LoadedModel, examples: Dataset, split: str) -> Dataset:
    with args.training.main_process_first(desc=f"tokenizing {split}"):
        return task.preprocess(examples, loaded.tokenizer, split)


def _split_metrics(trainer_metrics: dict[str, Any], task_metrics: dict[str, Any] | None, prefix: str) -> dict:
    """`{"eval_loss": ..., "eval_accuracy": ...}` + the task's full results -> `{"loss": ..., "per_class": ...}`."""
    metrics = {key[len(prefix) + 1 :]: value for key, value in trainer_metrics.items() if key.startswith(prefix + "_")}
    metrics.update(task_metrics or {})
    return metrics


# ---------------------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------------------


def train(task_name: str, args: ParsedArguments, command: str) -> dict[str, Any]:
    """Train, save, evaluate and document one run in `--output_dir`; returns the contents of `metrics.json`."""
    check_arguments(args, "train")
    # e.g. `accelerate launch --cpu --num_processes 2` starts one process: stop before any work, say why
    check_world_size(args.training)
    command = with_launcher(command)  # record `accelerate launch ... script.py`, not `python script.py`
    training = args.training
    push = take_over_push_to_hub(training)  # --push_to_hub: `transfuse push` once the run folder is complete
    check_output_dir(training.output_dir, args.run.overwrite_output_dir, training.resume_from_checkpoint)
    checkpoint = resolve_checkpoint(training.output_dir, training.resume_from_checkpoint)
    task = make_task(task_name, args)
    has_validation = bool(args.data.validation_file or args.data.dataset_name)
    data = prepare_data(task, args, ["train", "validation"] if has_validation else ["train"])
    loaded = load_for_training(
        task,
        args.model,
        args.adapter,
        task.training_texts(data.examples["train"]),
        seed=training.seed,
        freeze_input_embeddings=args.run.freeze_input_embeddings,
    )
    record_max_length(loaded.tokenizer, task.max_seq_length)  # evaluate / predict truncate as training does
    task.attach(loaded.tokenizer, loaded.model.config)
    train_features = _preprocess(task, args, loaded, data.examples["train"], "train")
    eval_examples = data.examples.get("validation")
    eval_features = _preprocess(task, args, loaded, eval_examples, "validation") if eval_examples else None
    eval_bf16 = use_bf16_inference(training.device, args.run.fp32)
    time_budget = [StopAfterMinutes(args.run.max_train_minutes)] if args.run.max_train_minutes else []
    trainer = build_trainer(
        task,
        loaded.model,
        loaded.tokenizer,
        training,
        train_features,
        eval_features,
        eval_examples,
        eval_bf16=eval_bf16,
        # AdaLoRA's budget; the adapter start check; a NaN loss stops the run before it is saved; steps/time plan
        callbacks=[
            *adapter_callbacks(args.adapter),
            StopOnNonFiniteLoss(),
            TrainingPlanCallback.for_task(task_name),
            *task.callbacks(),
            *time_budget,
        ],
        run=args.run,
        new_modules=loaded.new_modules,
    )

    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()
    results: dict[str, Any] = {
        "task": task_name,
        "command": command,
        "train": dict(train_result.metrics),
        "train_precision": "bf16" if training.bf16 else "fp16" if training.fp16 else "fp32",
        "eval_precision": eval_precision_name(training, eval_bf16),
        "skipped_rows": [report.to_dict() for report in data.skipped],
    }
    if time_budget and time_budget[0].stopped_at_step is not None:
        results["train"]["stopped_by_max_train_minutes_at_step"] = time_budget[0].stopped_at_step
    eval_quality: dict[str, float] = {}
    if eval_features is not None:
        eval_metrics = trainer.evaluate()
        results["eval"] = _split_metrics(eval_metrics, trainer.task_metrics.get("eval"), "eval")
        eval_quality = task.card_metrics(trainer.task_metrics.get("eval", {}))
    if trainer.is_world_process_zero():
        output_dir = Path(training.output_dir)
        if args.adapter.enabled:
            save_for_inference(trainer.model, output_dir, args.adapter)
        elif eval_features is not None:
            # the final evaluation may have taught the task something predict needs (QA's null threshold,
            # tuned on validation), which it wrote into the config: save the config again
            unwrap_model(trainer.model).config.save_pretrained(output_dir)
        write_task_settings(output_dir, task_name, args.task, args.data)  # evaluate/predict reuse the columns
        write_metrics(output_dir, results)
        plot_loss_curves(trainer.state.log_history, output_dir / LOSS_CURVE_FILE)
        write_model_card(
            output_dir,
            task_type=task.pipeline_tag,
            metrics=eval_quality,
            command=command,
            dataset_name=_short_source(data.sources.get("validation", data.sources["train"])),
            train_dataset=_short_source(data.sources["train"]),
            base_model=loaded.base_model,
            adapter=args.adapter.adapter if args.adapter.enabled else None,
            hyperparameters=_hyperparameters(args),
        )
        if push is not None:
            logger.info("pushed %s to %s", output_dir, push.push(output_dir))
    return results


def _short_source(source: str) -> str:
    """`../shared/data/classification/sst2/validation.jsonl` -> `sst2/validation.jsonl` (Hub names stay)."""
    path = Path(source)
    return f"{path.parent.name}/{path.name}" if path.suffix and path.parent.name else source


def _hyperparameters(args: ParsedArguments) -> dict[str, Any]:
    training = args.training
    chosen = {
        "learning_rate": training.learning_rate,
        "per_device_train_batch_size": training.per_device_train_batch_size,
        "num_train_epochs": training.num_train_epochs,
        "max_steps": training.max_steps,
        "warmup_steps": training.warmup_steps,
        "weight_decay": training.weight_decay,
        "lr_scheduler_type": str(getattr(training.lr_scheduler_type, "value", training.lr_scheduler_type)),
        "seed": training.seed,
        "max_seq_length": args.data.max_seq_length,
        "adapter": args.adapter.adapter,
    }
    if args.adapter.enabled:
        chosen.update(lora_r=args.adapter.lora_r, lora_alpha=args.adapter.lora_alpha)
    if args.model.from_scratch:
        chosen.update(preset=preset_name(args.model), architecture=args.model.architecture)
    return chosen


# ---------------------------------------------------------------------------------------------------------
# evaluate and predict
# ---------------------------------------------------------------------------------------------------------


def _inference_setup(task_name: str, args: ParsedArguments, command: str, stack: ExitStack):
    """(task, loaded model, the raw split): read once, before the model is loaded, so wrong columns fail fast."""
    check_arguments(args, command)
    if args.training.output_dir in (None, DEFAULT_OUTPUT_DIR):  # the Trainer creates its folder: keep it out of cwd
        args.training.output_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix=f"transfuse-{command}-"))
    task = make_task(task_name, args)
    split = "validation" if command == "evaluate" else "test"
    raw = load_raw_splits(task, args, [split])[split]  # wrong columns fail before the model is loaded
    check_columns(raw.examples, task.required_columns(split), raw.source)
    loaded = load_for_evaluation(task, args.model)  # labels come from the model, before the rows are checked
    task.max_seq_length = inference_length(args, loaded)
    task.attach(loaded.tokenizer, loaded.model.config)
    return task, loaded, raw


def record_max_length(tokenizer: Any, max_seq_length: int) -> None:
    """Save the run's length setting with its tokenizer (`model_max_length`, which pipelines truncate to too), so
    that evaluate and predict cut inputs as training did."""
    current = getattr(tokenizer, "model_max_length", None) or max_seq_length
    tokenizer.model_max_length = min(current, max_seq_length)


def inference_length(args: ParsedArguments, loaded: LoadedModel) -> int:
    """Truncation length of evaluate / predict: --max_seq_length when given, else the run's own (the saved
    tokenizer's `model_max_length`); never more than the model's positions."""
    default = DataArguments.__dataclass_fields__["max_seq_length"].default
    trained = getattr(loaded.tokenizer, "model_max_length", None)
    trained = trained if isinstance(trained, int) and trained < LARGE_LENGTH else None
    length = args.data.max_seq_length if args.data.max_seq_length != default or trained is None else trained
    positions = getattr(loaded.model.config, "max_position_embeddings", None)
    return min(length, positions) if isinstance(positions, int) and positions > 0 else length


def _report_truncation(features: Dataset, length: int, source: str) -> int:
    """Count (and log) the rows cut at `length` tokens, as training cut them."""
    lengths = feature_lengths(features)  # read from the Arrow column: no rows decoded
    if lengths is None:
        return 0
    cut = int((lengths >= length).sum())
    if cut:
        logger.info(
            "%d of %d rows of %s reached the limit and were truncated to %d tokens, as in training (--max_seq_length)",
            cut,
            len(features),
            source,
            length,
        )
    return cut


def evaluate(task_name: str, args: ParsedArguments, command: str = "evaluate") -> dict[str, Any]:
    """Score a trained model on the validation data; returns (and, with --output_dir, writes) the metrics."""
    explicit_output = args.training.output_dir not in (None, DEFAULT_OUTPUT_DIR)
    with ExitStack() as stack:
        task, loaded, raw = _inference_setup(task_name, args, "evaluate", stack)
        data = prepare_data(task, args, ["validation"], {"validation": raw})
        examples = data.examples["validation"]
        features = _preprocess(task, args, loaded, examples, "validation")
        truncated = _report_truncation(features, task.max_seq_length, data.sources["validation"])
        eval_bf16 = use_bf16_inference(args.training.device, args.run.fp32)
        trainer = build_trainer(task, loaded.model, loaded.tokenizer, args.training, eval_bf16=eval_bf16, run=args.run)
        metrics = trainer.evaluate(features, eval_examples=examples)
        results = {
            "task": task_name,
            "command": command,
            "model": args.model.model_name_or_path,
            "data": data.sources["validation"],
            "eval_precision": eval_precision_name(args.training, eval_bf16),
            "eval": _split_metrics(metrics, trainer.task_metrics.get("eval"), "eval"),
            "skipped_rows": [report.to_dict() for report in data.skipped],
            "max_seq_length": task.max_seq_length,
            "truncated_rows": truncated,
        }
        if explicit_output and trainer.is_world_process_zero():
            write_metrics(args.training.output_dir, results)
    return results


def predict(task_name: str, args: ParsedArguments, command: str = "predict") -> list[dict[str, Any]]:
    """Write one JSON line per input row of the test data, in order, to `--output_file`; returns the rows.

    Only the input columns are needed. With --skip_bad_rows a row that does not parse or that the model cannot
    read (e.g. empty text) still gets its line, holding `error` (row, column and problem), so line i of the
    output always answers row i of the input. The output is checked before the model is loaded (never the
    input; an existing file only with --overwrite_output_file) and written atomically.
    """
    data, run = args.data, args.run
    if run.output_file:
        check_output_file(run.output_file, data.test_file, run.overwrite_output_file)
    with ExitStack() as stack:
        task, loaded, raw = _inference_setup(task_name, args, "predict", stack)  # input columns checked there
        examples = raw.examples.select_columns(list(task.input_columns()))
        bad_rows = task.find_bad_rows(examples, "test")
        if bad_rows and not data.skip_bad_rows:
            drop_bad_rows(examples, bad_rows, raw.source, skip=False)  # raises, naming the rows
        source_row = raw.row_numbers()  # example k is row source_row[k] of the file
        problems = {row: f"row {row + 1}: {reason}" for row, reason in raw.unparsable.items()}
        for bad in sorted(bad_rows, key=lambda bad: bad.index):
            row = source_row[bad.index]
            detail = f" ({bad.detail})" if bad.detail else ""
            problems.setdefault(row, f"row {row + 1}, column {bad.column!r}: {bad.problem}{detail}")
        usable = examples.select([k for k in range(len(examples)) if source_row[k] not in problems])
        eval_bf16 = use_bf16_inference(args.training.device, args.run.fp32)
        trainer = build_trainer(task, loaded.model, loaded.tokenizer, args.training, eval_bf16=eval_bf16, run=args.run)
        outputs: list[dict[str, Any]] = []
        if len(usable):
            features = _preprocess(task, args, loaded, usable, "test")
            _report_truncation(features, task.max_seq_length, raw.source)
            trainer.predict(features, test_examples=usable)
            outputs = trainer.task_outputs["test"]
        answers = iter(outputs)
        total = len(examples) + len(raw.unparsable)
        rows = [{"error": problems[i]} if i in problems else next(answers) for i in range(total)]
        if trainer.is_world_process_zero():
            _write_predictions(task, rows, run.output_file, run.overwrite_output_file)
        if problems:
            logger.warning(
                "%d of %d rows of %s could not be predicted; their lines hold `error` (row, column and problem)",
                len(problems),
                total,
                raw.source,
            )
    return rows


def _write_predictions(task: Task, rows: list[dict[str, Any]], path: str, overwrite: bool) -> None:
    """The task writes its outputs (its own format) to a staged file, published in one step: replacing `path` only
    with --overwrite_output_file, else never over a file another writer created meanwhile."""
    if overwrite:
        task.write_outputs(rows, path)  # atomic replace (transfuse.data.outputs)
        return
    target = Path(path)
    staged = target.with_name(f".{target.name}.{os.getpid()}.staged")
    try:
        task.write_outputs(rows, staged)
        publish_new(staged, target)
    finally:
        staged.unlink(missing_ok=True)


__all__ = ["PreparedData", "evaluate", "make_task", "predict", "prepare_data", "train"]
