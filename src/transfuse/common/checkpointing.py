"""Checkpoints that are either complete or invisible: atomic saves, and resuming only from complete ones.

transformers' `Trainer._save_checkpoint` writes straight into `output_dir/checkpoint-N`: the weights, then the
optimizer and scheduler, the RNG state of every rank, and `trainer_state.json` last. A run killed in between
leaves a `checkpoint-N` folder that `get_last_checkpoint` (hence `--resume_from_checkpoint True`) picks up as the
latest, and resuming then fails or, worse, silently continues without optimizer state or RNG.

`AtomicCheckpointMixin` makes the save atomic, the way databases commit: the Trainer writes the checkpoint into
`output_dir/.partial-checkpoints/checkpoint-N`; once every rank has finished writing (a barrier), the files are
flushed to disk and the folder is renamed to `output_dir/checkpoint-N` in one `os.rename`. So any `checkpoint-N`
folder is complete, whatever moment the run was killed at; a half-written one stays under `.partial-checkpoints`
(no Trainer or transfuse code reads it) and is cleared by the next save. `last_complete_checkpoint` is what
`--resume_from_checkpoint auto` resolves to: the newest checkpoint whose `trainer_state.json` is whole, which also
skips half-written folders left by runs that did not use the mixin.

Resuming is also guarded against the wrong run: every checkpoint records the training arguments that shape the
run (`RESUME_FIELDS`: learning rate and schedule, steps, batch, seeds; JSON in `transfuse_resume.json`) and
`check_resume` refuses to continue it with others, naming each difference. A checkpoint at the run's last step
is finished from directly (its weights, its logged loss): the Trainer would otherwise train one step past
`max_steps`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from transformers import TrainerState
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, TrainOutput, rotate_checkpoints

logger = logging.getLogger(__name__)

PARTIAL_DIR = ".partial-checkpoints"
TRAINER_STATE = "trainer_state.json"
RESUME_FILE = "transfuse_resume.json"  # the training arguments a resume must match (JSON, not a pickle)
_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def _fsync_tree(folder: str) -> None:
    """Flush every file of `folder` and the folder itself to disk (a crash of the machine, not only of the
    process, must not leave a renamed folder with empty files)."""
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # platforms without directory descriptors (Windows)
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class AtomicCheckpointMixin:
    """Put before `Trainer` in the bases: `class MyTrainer(AtomicCheckpointMixin, Trainer)`.

    Overrides two private Trainer methods (transformers 5.x): `_save_checkpoint`, to stage and then publish the
    folder, and `_get_output_dir`, which `_save_checkpoint` asks for the folder to write into.
    """

    _staging_checkpoint = False

    def _get_output_dir(self, trial: Any) -> str:
        run_dir = super()._get_output_dir(trial)
        return os.path.join(run_dir, PARTIAL_DIR) if self._staging_checkpoint else run_dir

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        run_dir = self._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        partial, final = os.path.join(run_dir, PARTIAL_DIR, name), os.path.join(run_dir, name)
        if self.args.should_save:
            shutil.rmtree(os.path.dirname(partial), ignore_errors=True)  # what killed saves left behind
        self.accelerator.wait_for_everyone()
        self._staging_checkpoint = True
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_checkpoint = False
        if self.args.should_save:
            self._point_state_at(partial, final)
            if os.path.isdir(partial):
                write_resume_record(partial, self.args)
        self.accelerator.wait_for_everyone()  # every rank has written its files (its RNG state, its shards)
        if self.args.should_save and os.path.isdir(partial):
            self._publish(partial, final, run_dir)

    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any):
        """`Trainer.train`, refusing a checkpoint saved with other training arguments, and finishing without a
        step when the checkpoint is the run's last (the Trainer would train one step past `max_steps`)."""
        if isinstance(resume_from_checkpoint, str) and resume_from_checkpoint:
            check_resume(resume_from_checkpoint, self.args)
            state = TrainerState.load_from_json(os.path.join(resume_from_checkpoint, TRAINER_STATE))
            if state.max_steps > 0 and state.global_step >= state.max_steps:
                return self._finish_from(resume_from_checkpoint, state)
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def _finish_from(self, checkpoint: str, state: TrainerState) -> TrainOutput:
        """The run was complete when it stopped: take the weights it ended with, and its loss from the log."""
        best = state.best_model_checkpoint if self.args.load_best_model_at_end else None
        self._load_from_checkpoint(best if best and os.path.isdir(best) else checkpoint)
        self.state = state
        steps, weighted, previous = 0, 0.0, 0
        for entry in sorted((e for e in state.log_history if "loss" in e and "step" in e), key=lambda e: e["step"]):
            weighted += entry["loss"] * (entry["step"] - previous)
            steps, previous = steps + entry["step"] - previous, entry["step"]
        train_loss = weighted / steps if steps else float("nan")
        logger.warning(
            "%s is the last checkpoint of this run (step %d of %d): nothing left to train, finishing the run from it",
            checkpoint,
            state.global_step,
            state.max_steps,
        )
        metrics = {
            "train_loss": train_loss,
            "train_loss_steps": steps,
            "epoch": state.epoch,
            "global_step": state.global_step,
            "train_runtime": 0.0,
            "resumed_finished_run": True,
        }
        return TrainOutput(state.global_step, train_loss, metrics)

    def _point_state_at(self, partial: str, final: str) -> None:
        """The Trainer recorded the best checkpoint under the staging path; record where it will live."""
        best = self.state.best_model_checkpoint
        if best and best.startswith(os.path.dirname(partial) + os.sep):
            self.state.best_model_checkpoint = os.path.join(os.path.dirname(final), os.path.basename(best))
            if os.path.isfile(os.path.join(partial, TRAINER_STATE)):
                self.state.save_to_json(os.path.join(partial, TRAINER_STATE))

    def _publish(self, partial: str, final: str, run_dir: str) -> None:
        _fsync_tree(partial)
        if os.path.isdir(final):  # the same step saved again (a resume from an older checkpoint): replace it
            stale = f"{partial}.replaced"
            shutil.rmtree(stale, ignore_errors=True)
            os.rename(final, stale)
            os.rename(partial, final)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.rename(partial, final)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(partial))  # leave no empty staging folder in the run folder
        _fsync_dir(run_dir)
        logger.info("checkpoint %s written atomically", final)
        rotate_checkpoints(
            output_dir=run_dir,
            save_total_limit=self.args.save_total_limit,
            best_model_checkpoint=self.state.best_model_checkpoint,
            use_mtime=False,
        )


# What a resumed run must share with the run that saved the checkpoint (in this order in messages): the schedule,
# the batch, the data order. Stored as JSON in every checkpoint, never read back from the pickled
# `training_args.bin`.
RESUME_FIELDS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "warmup_ratio",
    "max_steps",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "world_size",
    "seed",
    "data_seed",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "max_grad_norm",
    "optim",
    "train_sampling_strategy",
    "bf16",
    "fp16",
)


def _plain(value: Any) -> Any:
    value = getattr(value, "value", value)  # enums (scheduler, optimizer)
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def resume_settings(training_args: Any) -> dict[str, Any]:
    """The `RESUME_FIELDS` of `training_args` as JSON values (fields this transformers version lacks are left out)."""
    return {name: _plain(getattr(training_args, name)) for name in RESUME_FIELDS if hasattr(training_args, name)}


def write_resume_record(checkpoint: str | Path, training_args: Any) -> None:
    path = Path(checkpoint) / RESUME_FILE
    path.write_text(json.dumps(resume_settings(training_args), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def check_resume(checkpoint: str | Path, training_args: Any) -> None:
    """Raise `ValueError` naming every training argument that differs from those the checkpoint was saved with."""
    path = Path(checkpoint) / RESUME_FILE
    if not path.is_file():
        logger.warning(
            "%s has no %s (saved by another tool or an older transfuse): cannot check that this run "
            "resumes it with the same training arguments",
            checkpoint,
            RESUME_FILE,
        )
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    current = resume_settings(training_args)
    differing = [
        f"{name} {saved[name]!r} there, {current[name]!r} here"
        for name in RESUME_FIELDS
        if name in saved and name in current and saved[name] != current[name]
    ]
    if differing:
        raise ValueError(
            f"{checkpoint} was saved by a run with other training arguments: {'; '.join(differing)}. Resume with "
            "the arguments of that run, or start a new one (another --output_dir, or --overwrite_output_dir)."
        )


def is_complete_checkpoint(path: str | Path) -> bool:
    """A checkpoint folder whose `trainer_state.json` (written last by the Trainer) parses, and says step N when
    the folder is named `checkpoint-N`."""
    path = Path(path)
    try:
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    match = _CHECKPOINT.match(path.name)
    return (
        isinstance(state, dict)
        and "global_step" in state
        and (match is None or state["global_step"] == int(match.group(1)))
    )


def last_complete_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete `checkpoint-N` in `output_dir` (what `--resume_from_checkpoint auto` resumes)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    candidates = sorted(
        (int(match.group(1)), child)
        for child in output_dir.iterdir()
        if child.is_dir() and (match := _CHECKPOINT.match(child.name))
    )
    for _, checkpoint in reversed(candidates):
        if is_complete_checkpoint(checkpoint):
            return str(checkpoint)
        logger.warning(
            "skipping %s: incomplete (its %s is missing or cut short; the run was killed while saving it)",
            checkpoint,
            TRAINER_STATE,
        )
    return None


__all__ = [
    "PARTIAL_DIR",
    "RESUME_FIELDS",
    "RESUME_FILE",
    "AtomicCheckpointMixin",
    "check_resume",
    "is_complete_checkpoint",
    "last_complete_checkpoint",
    "resume_settings",
    "write_resume_record",
]
