"""The same script on one process or many: the world-size check, the CPU process group, per-rank devices.

`accelerate launch` and `torchrun` start N copies of a script; each copy learns its rank and the world size from
the environment. Three things go wrong silently when that is left to chance, and this module guards them:

* **The wrong number of processes.** `accelerate launch --cpu --num_processes 2` (or a config file with
  `use_cpu: true` / `distributed_type: NO`) starts *one* process and trains on it as if nothing happened.
  `check_world_size` compares the world size the user asked for (from `TRANSFUSE_EXPECTED_WORLD_SIZE`, or read
  from the `accelerate launch` command line that started us) with the one that is running, and stops with the
  command that works: `accelerate launch --multi_gpu --num_processes N --num_machines 1 ...` (gloo on CPU) or
  `torchrun --nproc_per_node N ...`. It also refuses a stale `WORLD_SIZE` exported in a shell, which would make
  the first collective wait forever.
* **N independent runs instead of one.** On a machine without GPUs, `torchrun` or `accelerate launch --multi_gpu`
  start N processes, but transformers' `TrainingArguments` only joins them into a (gloo) process group when told
  the run is on the CPU (`use_cpu` / `ACCELERATE_USE_CPU`); otherwise each process trains alone on all the data
  and they overwrite each other's files. `enable_cpu_process_group` sets that up before the arguments are parsed,
  and `check_world_size(training_args)` refuses any run whose Trainer sees another world size than the launcher's.
* **Preprocessing N times.** Not here: the workflows tokenize inside `TrainingArguments.main_process_first`, so
  the main process maps a file-backed split first and the other ranks load its result from the `datasets` cache.
* **QLoRA under DDP.** `device_map="auto"` spreads one model over every visible GPU; under DDP each rank must hold
  its own full replica on its own device. `per_process_device_map` gives `{"": local_rank}` there.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState
from accelerate.utils import get_int_from_env

EXPECTED_WORLD_SIZE_ENV = "TRANSFUSE_EXPECTED_WORLD_SIZE"
# Where launchers put the world size: torchrun / accelerate / deepspeed, then Intel MPI / Open MPI / MVAPICH.
WORLD_SIZE_ENVS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


class WorldSizeMismatchError(ValueError):
    """The run has a different number of processes than the user asked for (a launch configuration error, so a
    `ValueError`: command-line front-ends print it as a one-line error before any work starts)."""


@dataclass(frozen=True)
class WorldSizeRequest:
    """How many processes the user asked for, and where they said so (quoted back in error messages)."""

    world_size: int
    source: str


def running_world_size(environ: Mapping[str, str] | None = None) -> int:
    """The number of processes in this run, from the launcher's environment (1 without a launcher)."""
    if environ is None:
        return get_int_from_env(WORLD_SIZE_ENVS, 1)
    for key in WORLD_SIZE_ENVS:
        if int(environ.get(key, -1)) >= 0:
            return int(environ[key])
    return 1


def _launch_arguments(argv: Sequence[str]) -> list[str] | None:
    """The arguments after `accelerate launch` (or `accelerate-launch`, `python -m accelerate.commands.launch`)."""
    for i, token in enumerate(argv):
        name = os.path.basename(token)
        if name == "accelerate" and i + 1 < len(argv) and argv[i + 1] == "launch":
            return list(argv[i + 2 :])
        if name == "accelerate-launch":
            return list(argv[i + 1 :])
        if token == "-m" and i + 1 < len(argv) and argv[i + 1] == "accelerate.commands.launch":
            return list(argv[i + 2 :])
    return None


def world_size_from_accelerate_launch(argv: Sequence[str]) -> WorldSizeRequest | None:
    """The process count an `accelerate launch` command line asks for: `--num_processes`, else its config file's.

    Parsed with accelerate's own launch parser; `None` when `argv` is not an `accelerate launch` command or names
    no process count (accelerate then picks one itself, so there is nothing to contradict).
    """
    launch_args = _launch_arguments(argv)
    if launch_args is None:
        return None
    from accelerate.commands.config import default_config_file, load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    try:
        args, _ = launch_command_parser().parse_known_args(launch_args)
    except SystemExit:  # not a command line accelerate accepts: nothing to compare with
        return None
    command = "accelerate launch " + shlex.join(
        launch_args[: launch_args.index(args.training_script)] if args.training_script in launch_args else launch_args
    )
    if args.num_processes is not None:
        return WorldSizeRequest(int(args.num_processes), f"`{command.strip()}`")
    config_file = args.config_file or (
        default_config_file if os.path.isfile(default_config_file) and not args.cpu else None
    )
    if config_file is None:
        return None
    num_processes = getattr(load_config_from_file(config_file), "num_processes", -1)
    if num_processes is None or num_processes <= 0:
        return None
    return WorldSizeRequest(int(num_processes), f"`num_processes: {num_processes}` in {config_file}")


def _launcher_options(argv: Sequence[str]) -> list[str] | None:
    """`["accelerate", "launch", *options]` or `["torchrun", *options]` (the options before the script) when
    `argv` is such a launcher command, parsed with the launcher's own argument parser; else None."""
    launch_args, program = _launch_arguments(argv), ["accelerate", "launch"]
    if launch_args is not None:
        from accelerate.commands.launch import launch_command_parser as parser_factory
    else:
        for i, token in enumerate(argv):
            as_module = token == "-m" and argv[i + 1 : i + 2] == ["torch.distributed.run"]
            if os.path.basename(token) == "torchrun" or as_module:
                launch_args, program = list(argv[i + (2 if as_module else 1) :]), ["torchrun"]
                from torch.distributed.run import get_args_parser as parser_factory

                break
        else:
            return None
    try:
        args, _ = parser_factory().parse_known_args(launch_args)
    except SystemExit:
        return None
    script = args.training_script
    return [*program, *(launch_args[: launch_args.index(script)] if script in launch_args else launch_args)]


def with_launcher(command: str, launcher_argv: Sequence[str] | None = None) -> str:
    """`python script.py ...` as it was really started: `accelerate launch OPTIONS script.py ...` or `torchrun
    OPTIONS script.py ...` when one of them launched this process (what a model card must record: the launcher
    decides the number of processes, hence the global batch). Unchanged otherwise."""
    options = _launcher_options(_parent_command_line() if launcher_argv is None else launcher_argv)
    if options is None or not command.startswith("python "):
        return command
    return f"{shlex.join(options)} {command[len('python ') :]}"


def _parent_command_line() -> list[str]:
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:  # not Linux, or no access: the environment variable remains
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def requested_world_size(
    environ: Mapping[str, str] | None = None, launcher_argv: Sequence[str] | None = None
) -> WorldSizeRequest | None:
    """The world size the user asked for: `TRANSFUSE_EXPECTED_WORLD_SIZE`, else the `accelerate launch` command.

    `launcher_argv` defaults to the command line of the parent process, which is the `accelerate launch` process
    for every launcher it uses (simple, torchrun-style, MPI).
    """
    environ = os.environ if environ is None else environ
    if environ.get(EXPECTED_WORLD_SIZE_ENV):
        value = environ[EXPECTED_WORLD_SIZE_ENV]
        if not value.isdigit() or int(value) < 1:
            raise ValueError(
                f"{EXPECTED_WORLD_SIZE_ENV}={value!r} must be a positive integer (the total number of "
                "processes across machines), or unset it."
            )
        return WorldSizeRequest(int(value), f"{EXPECTED_WORLD_SIZE_ENV}={value}")
    return world_size_from_accelerate_launch(_parent_command_line() if launcher_argv is None else launcher_argv)


def _cpu_fix(world_size: int) -> str:
    return (
        f"On CPU, start {world_size} processes with `accelerate launch --multi_gpu --num_processes {world_size} "
        f"--num_machines 1 SCRIPT ...` (gloo backend; or `--config_file configs/accelerate/multi_cpu.yaml`) or "
        f"`torchrun --nproc_per_node {world_size} SCRIPT ...`; `accelerate launch --cpu` always starts a single "
        "process."
    )


def check_world_size(
    training_args: Any = None,
    expected: int | None = None,
    environ: Mapping[str, str] | None = None,
    launcher_argv: Sequence[str] | None = None,
) -> int:
    """Stop before training when the run does not have the processes the user asked for; return the world size.

    Args:
        training_args (`TrainingArguments`, *optional*): the Trainer's arguments; their `world_size` (the process
            group the Trainer will use) must equal the number of processes the launcher started.
        expected (`int`, *optional*): the world size to insist on; defaults to `requested_world_size()`.
        environ, launcher_argv: stand-ins for `os.environ` and the launcher's command line (tests).

    Raises:
        WorldSizeMismatchError: naming both numbers, where the request came from, and the launch command to use.
    """
    environ = os.environ if environ is None else environ
    stale = environ.get("WORLD_SIZE")
    if stale and int(stale) > 1 and "RANK" not in environ and "LOCAL_RANK" not in environ:
        raise WorldSizeMismatchError(
            f"WORLD_SIZE={stale} is set in the environment but no launcher started this process (RANK and LOCAL_RANK "
            "are unset), so the first collective would wait forever for the missing processes. Unset WORLD_SIZE to "
            f"train on one process, or start the script with `torchrun --nproc_per_node {stale} ...` / "
            f"`accelerate launch --num_processes {stale} ...`."
        )
    running = running_world_size(environ)
    request = (
        WorldSizeRequest(expected, f"expected={expected}")
        if expected is not None
        else requested_world_size(environ, launcher_argv)
    )
    if request is not None and request.world_size != running:
        hint = (
            _cpu_fix(request.world_size)
            if not torch.cuda.is_available() or running == 1
            else (
                "Check `--num_processes`/`--num_machines` and `--gpu_ids` (or `num_processes` in the accelerate "
                f"config) against the {torch.cuda.device_count()} GPUs visible here."
            )
        )
        raise WorldSizeMismatchError(
            f"This run asked for {request.world_size} processes ({request.source}) but {running} "
            f"{'is' if running == 1 else 'are'} running. {hint} Set {EXPECTED_WORLD_SIZE_ENV} to the total process "
            "count to state the intent explicitly."
        )
    trainer_world = getattr(training_args, "world_size", running)
    if trainer_world != running:
        raise WorldSizeMismatchError(
            f"The launcher started {running} processes but the Trainer set up a process group of {trainer_world}: "
            f"each process would train alone on all the data. On a machine without GPUs set ACCELERATE_USE_CPU=true"
            f" (or --use_cpu true) before the arguments are parsed (`enable_cpu_process_group()` does it); "
            f"ACCELERATE_USE_CPU is {environ.get('ACCELERATE_USE_CPU', 'unset')} here."
        )
    return running


def _has_accelerator() -> bool:
    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())


def enable_cpu_process_group(environ: MutableMapping[str, str] | None = None) -> bool:
    """Under a multi-process launch on a machine without GPUs, make the Trainer build a gloo process group.

    transformers sets up distributed training on the CPU only with `use_cpu` or `ACCELERATE_USE_CPU`; without it,
    each of the N processes trains alone on the whole data set. Sets `ACCELERATE_USE_CPU=true` (unless the user
    set it either way). Call before `TrainingArguments` is built: it sets up its devices on construction.
    Returns whether the environment was changed.
    """
    environ = os.environ if environ is None else environ
    if running_world_size(environ) > 1 and "ACCELERATE_USE_CPU" not in environ and not _has_accelerator():
        environ["ACCELERATE_USE_CPU"] = "true"
        return True
    return False


def is_main_process() -> bool:
    """True on the process that reports (global rank 0), and on a single process: summaries print once."""
    return PartialState().is_main_process


def per_process_device_map() -> dict[str, int | str] | str:
    """The `device_map` for `from_pretrained` of a quantized (QLoRA) base: the whole model on this rank's device.

    `device_map="auto"` would spread one model over every visible accelerator, which breaks DDP (each rank must own
    a full replica). Returns `{"": local_rank}` with CUDA, `{"": "xpu:<local_rank>"}` with XPU, else `"cpu"`.
    """
    local_rank = get_int_from_env(["LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK"], 0)
    if torch.cuda.is_available():
        return {"": local_rank}
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        return {"": f"xpu:{local_rank}"}
    return "cpu"


__all__ = [
    "EXPECTED_WORLD_SIZE_ENV",
    "WorldSizeMismatchError",
    "WorldSizeRequest",
    "check_world_size",
    "enable_cpu_process_group",
    "is_main_process",
    "per_process_device_map",
    "requested_world_size",
    "running_world_size",
    "with_launcher",
    "world_size_from_accelerate_launch",
]
