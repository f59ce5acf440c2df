"""Run one command and report its memory: peak RSS of the whole process, and the memory its training loop added.

    python benchmarks/rss_watch.py USAGE.json LOG -- COMMAND ...

The command's output goes to LOG. USAGE.json gets its exit code, CPU seconds, peak RSS (`getrusage
(RUSAGE_CHILDREN)`: this wrapper has only this one child, so no other process's peak is mixed in) and, when the
command is a `transfuse train`, the RSS at the start of the training loop (the line `training N steps ...` that
`TrainingPlanCallback` logs once the model and the data are loaded) and the highest RSS until the training loop
ends (the Trainer's final `train_runtime` line), sampled every 50 ms from /proc. Their difference is the training
memory (activations, gradients, optimizer state), which is what full fine-tuning and LoRA differ in; the peak of
the whole process also holds the loading and the final evaluation.

`bench_qa.py` runs its subprocesses through this wrapper.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

TRAIN_BEGIN = "transfuse.training.plan: training "
TRAIN_END = ("'train_runtime'", "'train_loss'")


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` now (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    usage_path, log_path, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        raise SystemExit("usage: rss_watch.py USAGE.json LOG -- COMMAND ...")
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    state = {"training": False, "train_start_rss_mib": None, "train_peak_rss_mib": None}

    def watch() -> None:
        while child.poll() is None:
            if state["training"]:
                state["train_peak_rss_mib"] = max(state["train_peak_rss_mib"] or 0.0, rss_mib(child.pid))
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    with open(log_path, "w") as log:
        for line in child.stdout:
            log.write(line)
            log.flush()
            if state["train_start_rss_mib"] is None and TRAIN_BEGIN in line:
                state["train_start_rss_mib"] = state["train_peak_rss_mib"] = rss_mib(child.pid)
                state["training"] = True
            elif state["training"] and all(key in line for key in TRAIN_END):
                state["training"] = False
    code = child.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "code": code,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        **state,
    }
    if state["train_start_rss_mib"] is not None:
        report["training_memory_mib"] = state["train_peak_rss_mib"] - state["train_start_rss_mib"]
    report.pop("training")
    Path(usage_path).write_text(json.dumps(report) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
