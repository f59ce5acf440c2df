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

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

logger = logging.getLogger(__name__)

PARTIAL_DIR = ".partial-checkpoints"
TRAINER_STATE = "trainer_state.json"
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
        self.accelerator.wait_for_everyone()  # every rank has written its files (its RNG state, its shards)
        if self.args.should_save and os.path.isdir(partial):
            self._publish(partial, final, run_dir)

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
        rotate_checkpoints(output_dir=run_dir, save_total_limit=self.args.save_total_limit,
                           best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=False)


def is_complete_checkpoint(path: str | Path) -> bool:
    """A checkpoint folder whose `trainer_state.json` (written last by the Trainer) parses, and says step N when
    the folder is named `checkpoint-N`."""
    path = Path(path)
    try:
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    match = _CHECKPOINT.match(path.name)
    return isinstance(state, dict) and "global_step" in state and (
        match is None or state["global_step"] == int(match.group(1)))


def last_complete_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete `checkpoint-N` in `output_dir` (what `--resume_from_checkpoint auto` resumes)."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    candidates = sorted(
        (int(match.group(1)), child) for child in output_dir.iterdir()
        if child.is_dir() and (match := _CHECKPOINT.match(child.name))
    )
    for _, checkpoint in reversed(candidates):
        if is_complete_checkpoint(checkpoint):
            return str(checkpoint)
        logger.warning("skipping %s: incomplete (its %s is missing or cut short; the run was killed while "
                       "saving it)", checkpoint, TRAINER_STATE)
    return None


__all__ = ["PARTIAL_DIR", "AtomicCheckpointMixin", "is_complete_checkpoint", "last_complete_checkpoint"]
