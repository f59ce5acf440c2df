"""Run a `transfuse` command in this process and record the training memory of its Trainer, for `bench_srl.py`.

    python benchmarks/rss_probe.py MEMORY.json train srl CONFIG.yaml --flag value ...

Every `transformers.Trainer` built in the process gets a `MemoryProbe` callback. When training begins (the model
loaded, the data tokenized, the optimizer not yet stepped) it reads every weight once (safetensors maps them
lazily), runs one forward + backward on the first two training rows with the gradients dropped (the runtime's
first-backward cost: code pages, thread pools, the same for every method), then takes the RSS as the baseline and
resets the peak (`/proc/self/clear_refs`). When training ends it writes to MEMORY.json
`{"peak_rss_before_training_mib", "rss_at_train_begin_mib", "peak_rss_during_training_mib", "training_memory_mib"
(peak during training minus the RSS at its start), "steps", "warm_up"}`: the memory that training itself adds
(gradients, optimizer state, activations), as `bench_adapters.py` measures it. The peak reset also resets what
`getrusage`/`wait4` report for the process, so its whole-run peak is the larger of the two peaks.
Linux only (/proc).
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import transformers
from transformers import TrainerCallback


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status (this probe measures memory on Linux)")


class MemoryProbe(TrainerCallback):
    def __init__(self, path: Path):
        self.path = path
        self.baseline: float | None = None
        self.peak_before: float | None = None
        self.warm_up = False

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        import torch

        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                tensor.view(-1)[:: max(1, 4096 // max(tensor.element_size(), 1))].sum()
        try:  # two rows through the Trainer's own collator; the dataloader's iterator is left untouched
            rows = [train_dataloader.dataset[i] for i in range(min(2, len(train_dataloader.dataset)))]
            batch = {key: value.to(model.device) for key, value in train_dataloader.collate_fn(rows).items()}
            with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bool(args.bf16)):
                loss = model(**batch).loss
            loss.backward()
            model.zero_grad(set_to_none=True)
            self.warm_up = True
        except (AttributeError, TypeError, KeyError, IndexError, RuntimeError) as err:
            print(f"rss_probe: no warm-up step ({type(err).__name__}: {err})", file=sys.stderr)
        gc.collect()
        self.peak_before = _status_mib("VmHWM")
        self.baseline = _status_mib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS

    def on_train_end(self, args, state, control, **kwargs):
        peak = _status_mib("VmHWM")
        record = {
            "peak_rss_before_training_mib": self.peak_before,
            "rss_at_train_begin_mib": self.baseline,
            "peak_rss_during_training_mib": peak,
            "training_memory_mib": peak - self.baseline if self.baseline is not None else None,
            "steps": state.global_step,
            "warm_up": self.warm_up,
        }
        self.path.write_text(json.dumps(record) + "\n")


def install(path: Path) -> None:
    """Give every Trainer built from now on a `MemoryProbe` writing to `path`."""
    original = transformers.Trainer.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(MemoryProbe(path))

    transformers.Trainer.__init__ = init


def main() -> int:
    record, argv = Path(sys.argv[1]), sys.argv[2:]
    record.unlink(missing_ok=True)
    install(record)
    from transfuse.allocator import apply_for_command
    from transfuse.cli.main import main as transfuse_main

    apply_for_command(argv[0] if argv else None)  # what the console script does before dispatching
    return transfuse_main(argv)


if __name__ == "__main__":
    sys.exit(main())
