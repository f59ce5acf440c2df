"""`run_pretraining`: raw text in; out, a run folder that every task module and `transfuse generate` load.

The steps, each failing before training with a message that names the flag to change:

1. check the arguments together and the output folder (free, or a run to resume);
2. load the training / validation documents; load the tokenizer, or train one on the training text;
3. build (or load) the model and check that it fits the tokenizer and `--block_size`;
4. tokenize once and pack into blocks (the main process first, so the other processes of an
   `accelerate launch` reuse its cache), requiring at least one full block;
5. train with the `transformers.Trainer` (bf16 autocast with `--bf16`; with `--resume_from_checkpoint` the
   Trainer restores model, optimizer, scheduler and RNG and skips the batches already consumed, so the data
   order continues exactly where it stopped; checkpoints are written atomically);
6. save model + tokenizer, evaluate (validation loss and perplexity), and write the run folder:
   `metrics.json`, a model card with the command, `loss_curve.png` (`transfuse.common.folder`).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from datasets import IterableDataset
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from ..common.arguments import ModelArguments
from ..common.builder import preset_name
from ..common.checkpointing import AtomicCheckpointMixin
from ..common.folder import (
    LOSS_CURVE_FILE,
    check_output_dir,
    plot_loss_curves,
    quality_metrics,
    resolve_checkpoint,
    write_metrics,
    write_model_card,
)
from ..distributed import check_world_size
from .arguments import CorpusArguments, PretrainingArguments, check_pretraining_arguments
from .corpus import TEXT, Corpus, load_text_corpus
from .model import build_model, load_or_train_tokenizer
from .objectives import OBJECTIVES
from .packing import build_blocks, require_one_full_block

logger = logging.getLogger(__name__)


class PretrainingTrainer(AtomicCheckpointMixin, Trainer):
    """The stock Trainer with atomic checkpoints (a run killed mid-save never leaves a half checkpoint)."""


class ThroughputCallback(TrainerCallback):
    """Measures training tokens per second of wall-clock and of process CPU time (the steadier figure on a
    shared machine) over the optimizer steps of this run (a resumed run counts from its checkpoint) and, given
    `max_seconds`, stops training once that much wall-clock time has passed."""

    def __init__(self, tokens_per_step: int, max_seconds: float | None = None):
        self.tokens_per_step = tokens_per_step
        self.max_seconds = max_seconds
        self.start_time = self.start_cpu = 0.0
        self.start_step = 0
        self.tokens_per_second = self.tokens_per_cpu_second = float("nan")

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_time, self.start_cpu, self.start_step = (
            time.perf_counter(),
            time.process_time(),
            state.global_step,
        )

    def on_step_end(self, args, state, control, **kwargs):
        if self.max_seconds is not None and time.perf_counter() - self.start_time >= self.max_seconds:
            control.should_training_stop = True
        return control

    def on_train_end(self, args, state, control, **kwargs):
        tokens = (state.global_step - self.start_step) * self.tokens_per_step
        self.tokens_per_second = tokens / max(time.perf_counter() - self.start_time, 1e-9)
        self.tokens_per_cpu_second = tokens / max(time.process_time() - self.start_cpu, 1e-9)


def load_documents(corpus_args: CorpusArguments, split: str) -> Corpus | None:
    """The `train` or `validation` documents, or None when no validation text was given."""
    files = corpus_args.train_files if split == "train" else corpus_args.validation_files
    dataset_split = corpus_args.train_split_name if split == "train" else corpus_args.validation_split_name
    if files is None and dataset_split is None:
        return None
    return load_text_corpus(
        files=files,
        dataset_name=None if files is not None else corpus_args.dataset_name,
        dataset_config_name=corpus_args.dataset_config,
        split=dataset_split or "train",
        text_column=corpus_args.text_column,
        streaming=corpus_args.streaming and split == "train",
        encoding_errors=corpus_args.encoding_errors,
    )


def tokens_per_optimizer_step(training_args: TrainingArguments, block_size: int) -> int:
    return (
        training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * training_args.world_size
        * block_size
    )


def count_shifted_labels(model: Any) -> None:
    """Make the Trainer normalise a decoder-only causal-LM loss over the `T - 1` predicted positions of a block.

    The Trainer divides the summed loss by its own label count, and counts `labels[..., 1:]` only when the model's
    `loss_type` is `ForCausalLM`, which `transformers` derives from the class name. `GPT2LMHeadModel` (and other
    `*LMHeadModel`s) get `None`, so their training and validation losses came out `(T - 1) / T` too low: 0.4% at
    256-token blocks, enough to flatter GPT-2's perplexity against ours. Their loss function is `ForCausalLM`
    already, so naming it changes only the count. Not for masked-LM or encoder-decoder models, which do not shift.
    """
    model.loss_type = "ForCausalLM"


def evaluate_perplexity(trainer: Trainer) -> dict[str, float]:
    """Validation loss and its exponential, the perplexity per predicted token of the objective."""
    metrics = trainer.evaluate()
    metrics["eval_perplexity"] = math.exp(metrics["eval_loss"]) if metrics["eval_loss"] < 100 else float("inf")
    return metrics


def run_pretraining(
    model_args: ModelArguments,
    pretraining_args: PretrainingArguments,
    corpus_args: CorpusArguments,
    training_args: TrainingArguments,
    command: str | None = None,
    callbacks: list[TrainerCallback] | None = None,
) -> dict[str, Any]:
    """Pretrain, write the run folder `training_args.output_dir`, and return what `metrics.json` holds:
    `{"train": {... "train_tokens_per_second"}, "eval": {"loss", "perplexity", ...}, ...}`. `callbacks` are
    added to the Trainer's (e.g. a benchmark's learning-rate schedule)."""
    check_pretraining_arguments(model_args, pretraining_args, corpus_args, training_args)
    check_world_size(training_args)  # e.g. `accelerate launch --cpu --num_processes 2` starts one process: stop
    check_output_dir(
        training_args.output_dir, pretraining_args.overwrite_output_dir, training_args.resume_from_checkpoint
    )
    checkpoint = resolve_checkpoint(training_args.output_dir, training_args.resume_from_checkpoint)
    objective = OBJECTIVES[model_args.architecture]
    set_seed(training_args.seed)
    block_size = corpus_args.block_size

    with training_args.main_process_first(desc="reading, tokenizing and packing the corpus"):
        train_documents = load_documents(corpus_args, "train")
        eval_documents = load_documents(corpus_args, "validation")
        tokenizer = load_or_train_tokenizer(model_args, (row[TEXT] for row in train_documents), block_size)
        objective.check_tokenizer(tokenizer, model_args.tokenizer_name or model_args.model_name_or_path or "trained")
        model = build_model(model_args, pretraining_args, tokenizer, block_size)
        if model_args.architecture == "decoder":
            count_shifted_labels(model)
        train_blocks = build_blocks(train_documents, tokenizer, block_size, corpus_args.preprocessing_num_workers)
        require_one_full_block(train_blocks, block_size, "training")
        eval_blocks = None
        if eval_documents is not None:
            eval_blocks = build_blocks(eval_documents, tokenizer, block_size, corpus_args.preprocessing_num_workers)
            require_one_full_block(eval_blocks, block_size, "validation")
    if isinstance(train_blocks, IterableDataset):
        train_blocks = train_blocks.shuffle(seed=training_args.seed, buffer_size=corpus_args.shuffle_buffer_size)
    else:
        logger.info("%s on %d blocks of %d tokens", objective.name, len(train_blocks), block_size)

    max_seconds = 60 * pretraining_args.max_train_minutes if pretraining_args.max_train_minutes else None
    throughput = ThroughputCallback(tokens_per_optimizer_step(training_args, block_size), max_seconds)
    trainer = PretrainingTrainer(
        model=model,
        args=training_args,
        train_dataset=train_blocks,
        eval_dataset=eval_blocks,
        data_collator=objective.build_collator(tokenizer, pretraining_args),
        processing_class=tokenizer,
        callbacks=[throughput, *(callbacks or [])],
    )
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model()  # weights, config, generation config, tokenizer: AutoModelFor*/AutoTokenizer load it
    results: dict[str, Any] = {
        "task": "pretraining",
        "objective": objective.name,
        "architecture": model_args.architecture,
        "command": command,
        "block_size": block_size,
        "num_parameters": model.num_parameters(),
        "train": {
            **train_result.metrics,
            "train_tokens_per_second": throughput.tokens_per_second,
            "train_tokens_per_cpu_second": throughput.tokens_per_cpu_second,
        },
    }
    eval_metrics: dict[str, float] = {}
    if eval_blocks is not None:
        eval_metrics = evaluate_perplexity(trainer)
        results["eval"] = {key.removeprefix("eval_"): value for key, value in eval_metrics.items()}
    if trainer.is_world_process_zero():
        _write_run_folder(trainer, results, eval_metrics, model_args, pretraining_args, corpus_args, command)
    return results


def _write_run_folder(
    trainer: Trainer,
    results: dict[str, Any],
    eval_metrics: dict[str, float],
    model_args: ModelArguments,
    pretraining_args: PretrainingArguments,
    corpus_args: CorpusArguments,
    command: str | None,
) -> None:
    output_dir = Path(trainer.args.output_dir)
    trainer.save_state()  # trainer_state.json: the full log history
    write_metrics(output_dir, results)
    plot_loss_curves(trainer.state.log_history, output_dir / LOSS_CURVE_FILE)
    training = trainer.args
    files = corpus_args.validation_files or corpus_args.train_files
    source = corpus_args.dataset_name or ", ".join(Path(f).name for f in files[:3]) + (
        ", ..." if len(files) > 3 else ""
    )
    write_model_card(
        output_dir,
        task_type=OBJECTIVES[model_args.architecture].pipeline_tag,
        metrics=quality_metrics(eval_metrics),
        command=command or "run_pretraining(...)",
        dataset_name=source,
        base_model=model_args.model_name_or_path,
        pretrained=True,
        hyperparameters={
            "architecture": model_args.architecture,
            "objective": results["objective"],
            "model": model_args.model_name_or_path or pretraining_args.config_name or preset_name(model_args),
            "block_size": corpus_args.block_size,
            "learning_rate": training.learning_rate,
            "per_device_train_batch_size": training.per_device_train_batch_size,
            "max_steps": training.max_steps,
            "num_train_epochs": training.num_train_epochs,
            "bf16": training.bf16,
            "seed": training.seed,
        },
    )


__all__ = [
    "PretrainingTrainer",
    "ThroughputCallback",
    "evaluate_perplexity",
    "load_documents",
    "run_pretraining",
]
