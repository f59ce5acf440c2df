"""Run a training script unchanged, recording what each process did (for the multi-process tests).

    accelerate launch ... tests/distributed/launch_probe.py RECORD_DIR SCRIPT [script arguments ...]

The script runs through `runpy` as `__main__`, exactly as the launcher would run it. Around it, this process
records into `RECORD_DIR/rank<R>.json`: every file it wrote or renamed (Python `open` for writing through an audit
hook, plus `torch.save` and safetensors' `save_file`, which write from C++/Rust), each tokenization `datasets.map`
actually computed (seen by the progress bar it opens; a result loaded from the cache opens none), and it saves the
final weights of its in-memory model to `RECORD_DIR/rank<R>.safetensors`, so the test can compare the replicas of
every rank.

With `PROBE_PAUSE_ON=<glob>` the process stops (sleeps) the first time it opens a matching file for writing, and
with `PROBE_PAUSE_AT_STEP=<n>` right after optimizer step n, in both cases after writing `RECORD_DIR/paused-rank<R>`:
a test can then SIGKILL it at that exact point (mid-checkpoint-save, or between two training steps).
"""

from __future__ import annotations

import fnmatch
import json
import os
import runpy
import sys
import time
from pathlib import Path

record_dir, script, *script_args = sys.argv[1:]
RANK = os.environ.get("RANK", "0")
PAUSE_ON = os.environ.get("PROBE_PAUSE_ON")
PAUSE_AT_STEP = int(os.environ.get("PROBE_PAUSE_AT_STEP", "0"))
writes: list[str] = []
tokenizations: list[str] = []
paused = False


def _pause(where: str) -> None:
    global paused
    paused = True
    marker = Path(record_dir, f"paused-rank{RANK}")
    Path(f"{marker}.tmp").write_text(where)
    os.replace(f"{marker}.tmp", marker)  # whole or absent: the test reads it as soon as it appears
    time.sleep(3600)  # until the test kills us


def _note(path) -> None:
    path = os.path.abspath(os.fsdecode(path))
    writes.append(path)
    if PAUSE_ON and not paused and fnmatch.fnmatch(path, PAUSE_ON):
        _pause(path)


def _audit(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1], args[2]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR)
        )
        if writing:
            _note(args[0])
    elif event in ("os.rename", "os.replace"):
        _note(args[1])


sys.addaudithook(_audit)

import safetensors.torch  # noqa: E402  (patched before transformers binds `save_file`)
import torch  # noqa: E402

_save_file, _torch_save = safetensors.torch.save_file, torch.save


def _recording_save_file(tensors, filename, *args, **kwargs):
    _note(filename)
    return _save_file(tensors, filename, *args, **kwargs)


def _recording_torch_save(obj, f, *args, **kwargs):
    if isinstance(f, (str, os.PathLike)):
        _note(f)
    return _torch_save(obj, f, *args, **kwargs)


safetensors.torch.save_file, torch.save = _recording_save_file, _recording_torch_save

import datasets.arrow_dataset  # noqa: E402

_progress_bar = datasets.arrow_dataset.hf_tqdm


def _counting_progress_bar(*args, **kwargs):
    """`Dataset.map` opens its progress bar only when it computes (a cached result is loaded without one)."""
    tokenizations.append(str(kwargs.get("desc")))
    return _progress_bar(*args, **kwargs)


datasets.arrow_dataset.hf_tqdm = _counting_progress_bar

from transformers import TrainerCallback  # noqa: E402

import transfuse.training.workflow as workflow  # noqa: E402

trainers = []
_build_trainer = workflow.build_trainer


class _PauseAtStep(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == PAUSE_AT_STEP and not paused:
            _pause(f"after step {state.global_step}")


def _recording_build_trainer(*args, **kwargs):
    trainers.append(_build_trainer(*args, **kwargs))
    if PAUSE_AT_STEP:
        trainers[-1].add_callback(_PauseAtStep())
    return trainers[-1]


workflow.build_trainer = _recording_build_trainer

sys.argv = [script, *script_args]
code = 0
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as exit_:
    code = exit_.code or 0
finally:
    if trainers:
        model = trainers[0].accelerator.unwrap_model(trainers[0].model)
        state = {name: tensor.detach().clone().contiguous() for name, tensor in model.state_dict().items()}
        _save_file(state, str(Path(record_dir, f"rank{RANK}.safetensors")))
    Path(record_dir, f"rank{RANK}.json").write_text(
        json.dumps(
            {
                "writes": writes,
                "tokenizations": [d for d in tokenizations if d.startswith("Tokenizing")],
                "exit_code": code,
            }
        )
    )
sys.exit(code)
