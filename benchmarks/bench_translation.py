"""Multi30k de->en: the shipped transfuse recipe against an equal-sized BART trained through the same pipeline.

Two models of the same size go through exactly the same command, `transfuse train translation`, on the same data,
batches, seed and hyper-parameters (configs/translation/multi30k_de_en_small_scratch.yaml):

* transfuse: the shipped recipe as shipped, i.e. the `small` transfuse encoder-decoder built from `--preset`;
* BART: a `BartForConditionalGeneration` of the same size (layers, width, heads, FFN, vocabulary, positions,
  dropout, post-norm, gelu, tied embeddings, no embedding scaling) built from a `BartConfig`, saved with
  `save_pretrained` to WORK/bart_init and trained with `--model_name_or_path WORK/bart_init` and the recipe's
  other flags (the recipe without its four build-from-scratch keys: preset, architecture, tokenizer_kind,
  vocab_size).

Both use one tokenizer: the byte-level BPE (vocabulary 8000) that `transfuse train` would train for the recipe,
trained once here by the same function (`transfuse.tokenization.train_tokenizer`) on the same texts (the training
sources then targets, `TranslationTask.training_texts`), saved to WORK/tokenizer and passed as `--tokenizer_name`.
Each run stops after `--max_train_minutes` (default 45) or `--max_steps`, whichever comes first, and still saves,
evaluates and averages its checkpoints. With `--parallel` both runs train (and later decode) at the same time with
one thread each, so both see the same machine; otherwise one after the other with `--threads` threads.

Reported per model: validation BLEU / chrF with the sacreBLEU signatures, training minutes, steps, steps/s and
training tokens/s (non-padding source + target tokens of the training rows, truncated as the run truncates them,
times the rows seen: equal seeds and samplers give both runs the same batches, so equal steps are equal tokens),
and for each decode of the 1,014 validation sources by `transfuse evaluate` (greedy and beam 4, fp32 and the
default bf16 where the CPU multiplies bf16 natively) its BLEU and sentences/s over the evaluation loop's own
runtime (`eval_runtime`: generation plus scoring, model loading and data preparation left out). Ratios:
transfuse / BART training tokens/s and beam-4 decoding speed (> 1: transfuse is faster); bf16 / fp32 decoding
speed of transfuse. A finished run or decode folder (it holds metrics.json) is reused unless `--retrain`.

    python benchmarks/bench_translation.py --quick                         # smoke: a few minutes, not meaningful
    python benchmarks/bench_translation.py --parallel --work_dir /work/runs/mt --json /work/runs/mt/bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import environment, format_table, read_jsonl, save_json  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIG = REPO / "configs" / "translation" / "multi30k_de_en_small_scratch.yaml"
# what builds a transfuse model from scratch (the BART run gets the rest of the recipe)
SCRATCH_KEYS = ("preset", "architecture", "config_overrides", "tokenizer_kind", "vocab_size")
SIDES = ("transfuse", "bart")
# smoke mode: a tiny budget on a few hundred rows, checkpoints often enough for the averaging to run
QUICK = {
    "max_steps": 40,
    "max_train_samples": 384,
    "max_eval_samples": 64,
    "warmup_steps": 8,
    "save_steps": 8,
    "eval_steps": 1000,
    "logging_steps": 5,
}
DECODES = [(beams, precision) for beams in (1, 4) for precision in ("fp32", "bf16")]
# the recipe's decoding settings, passed to every decode, so that a run trained before a recipe change decodes
# the way the recipe does now
DECODING_KEYS = ("length_penalty", "no_repeat_ngram_size")


def options_of(config: dict[str, Any], quick: bool, max_steps: int | None) -> dict[str, Any]:
    """The recipe's values with the smoke overrides and `--max_steps`."""
    values = {**config, **(QUICK if quick else {})}
    if max_steps:
        values["max_steps"] = max_steps
    return values


def train_rows(values: dict[str, Any]) -> list[dict[str, str]]:
    """The training rows the run reads: the file's first `max_train_samples` rows (the workflow's selection)."""
    rows = [row["translation"] for row in read_jsonl(REPO / values["train_file"])]
    return rows[: values["max_train_samples"]] if values.get("max_train_samples") else rows


def build_tokenizer(values: dict[str, Any], rows: list[dict[str, str]], out: Path):
    """The BPE tokenizer the recipe trains (`builder.load_or_train_tokenizer`), trained once for both runs."""
    from transformers import AutoTokenizer

    from transfuse.common.arguments import ModelArguments
    from transfuse.common.builder import MIN_TRAINED_VOCAB, preset_positions
    from transfuse.tokenization import train_tokenizer

    if (out / "tokenizer.json").is_file():
        print(f"reusing the tokenizer {out}", flush=True)
        return AutoTokenizer.from_pretrained(out)
    source, target = values["source_lang"], values["target_lang"]
    texts = [row[source] for row in rows] + [row[target] for row in rows]  # TranslationTask.training_texts
    positions = preset_positions(
        ModelArguments(preset=values["preset"]), max(values["max_seq_length"], values["max_target_length"])
    )
    tokenizer = train_tokenizer(
        texts,
        kind=values["tokenizer_kind"],
        vocab_size=max(values["vocab_size"], MIN_TRAINED_VOCAB),
        model_max_length=positions,
        show_progress=False,
    )
    tokenizer.save_pretrained(out)
    print(f"trained a {values['tokenizer_kind']} tokenizer of {len(tokenizer)} ids on {len(texts)} texts -> {out}")
    return tokenizer


def build_bart(values: dict[str, Any], tokenizer, out: Path) -> None:
    """A `BartForConditionalGeneration` the size of the transfuse preset, with the tokenizer's special ids."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    from transfuse.common.arguments import ModelArguments
    from transfuse.common.builder import preset_positions
    from transfuse.modeling.presets import PRESETS

    if (out / "config.json").is_file():
        print(f"reusing the BART initialisation {out}", flush=True)
        return
    preset = PRESETS[values["preset"]]
    positions = preset_positions(
        ModelArguments(preset=values["preset"]), max(values["max_seq_length"], values["max_target_length"])
    )
    config = BartConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=positions,
        d_model=preset["hidden_size"],
        encoder_layers=preset["num_hidden_layers"],
        decoder_layers=preset["num_hidden_layers"],
        encoder_attention_heads=preset["num_attention_heads"],
        decoder_attention_heads=preset["num_attention_heads"],
        encoder_ffn_dim=preset["intermediate_size"],
        decoder_ffn_dim=preset["intermediate_size"],
        activation_function="gelu",  # transfuse's defaults: gelu, dropout 0.1 (none inside the FFN), no scaling
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        scale_embedding=False,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,  # as transfuse's builder sets it
        forced_bos_token_id=None,
        forced_eos_token_id=None,
    )
    torch.manual_seed(values.get("seed", 42))
    model = BartForConditionalGeneration(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"built a BART of {model.num_parameters() / 1e6:.2f}M parameters -> {out}", flush=True)


def source_target_tokens(values: dict[str, Any], tokenizer, rows: list[dict[str, str]]) -> int:
    """Non-padding tokens of one epoch: source + target ids of every row, truncated as the run truncates."""
    source = tokenizer([row[values["source_lang"]] for row in rows])["input_ids"]
    target = tokenizer(text_target=[row[values["target_lang"]] for row in rows])["input_ids"]
    return sum(min(len(ids), values["max_seq_length"]) for ids in source) + sum(
        min(len(ids), values["max_target_length"]) for ids in target
    )


def transfuse_argv(*words: str) -> list[str]:
    return [sys.executable, "-m", "transfuse.cli.main", *words]


def shown(argv: list[str], env_note: str) -> str:
    return f"{env_note} transfuse " + shlex.join(argv[3:])


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("w")
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, text=True)


def run_jobs(jobs: list[dict[str, Any]], env: dict[str, str], parallel: bool) -> None:
    """Run each job (argv, log, out) that has no metrics.json yet: all at once with `parallel`, else in turn."""
    todo = [job for job in jobs if job.get("argv")]
    batches = [todo] if parallel else [[job] for job in todo]
    for batch in batches:
        begun = time.perf_counter()
        procs = [(job, start(job["argv"], env, job["log"])) for job in batch]
        for job, proc in procs:
            job["returncode"] = proc.wait()
            job["wall_seconds"] = time.perf_counter() - begun
            if job["returncode"] != 0:
                tail = "\n".join(job["log"].read_text().splitlines()[-15:])
                print(f"!! {job['name']} failed ({job['returncode']}); log {job['log']}:\n{tail}", flush=True)


def job(name: str, argv: list[str], out: Path, retrain: bool, env_note: str) -> dict[str, Any]:
    """A subprocess to run unless `out` holds its metrics.json already (then it is reused)."""
    entry = {"name": name, "out": out, "log": out.parent / f"{out.name}.log", "command": shown(argv, env_note)}
    print(f"   {entry['command']}", flush=True)
    if (out / "metrics.json").is_file() and not retrain:
        print(f"   reusing {out} (metrics.json present; --retrain to train again)", flush=True)
    else:
        entry["argv"] = argv
    return entry


def read_metrics(out: Path) -> dict[str, Any] | None:
    path = out / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def training_summary(metrics: dict[str, Any], values: dict[str, Any], epoch_tokens: int, n_rows: int) -> dict:
    train, evaluation = metrics["train"], metrics.get("eval", {})
    steps = train.get("stopped_by_max_train_minutes_at_step") or values["max_steps"]
    seconds = train["train_runtime"]
    rows_seen = steps * values["per_device_train_batch_size"]
    return {
        "bleu": evaluation.get("bleu"),
        "chrf": evaluation.get("chrf"),
        "bleu_signature": evaluation.get("bleu_signature"),
        "chrf_signature": evaluation.get("chrf_signature"),
        "final_eval_precision": metrics.get("eval_precision"),
        "train_precision": metrics.get("train_precision"),
        "train_minutes": seconds / 60,
        "steps": steps,
        "stopped_by_time_budget": "stopped_by_max_train_minutes_at_step" in train,
        "steps_per_second": steps / seconds,
        "train_tokens_per_second": rows_seen * epoch_tokens / n_rows / seconds,
        "train_loss": train.get("train_loss"),
        "command": metrics.get("command"),
    }


def decode_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    evaluation = metrics["eval"]
    return {
        "bleu": evaluation.get("bleu"),
        "chrf": evaluation.get("chrf"),
        "length_ratio": evaluation.get("length_ratio"),  # output / reference length: long outputs decode slower
        "precision": metrics.get("eval_precision"),
        "seconds": evaluation.get("runtime"),
        "sentences_per_second": evaluation.get("samples_per_second"),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def print_report(results: dict[str, Any]) -> None:
    train = results["training"]
    print("\n## Training (validation scores: beam 4, the run's final averaged model)\n")
    rows = [
        [side, _f(t.get("bleu")), _f(t.get("chrf")), _f(t.get("train_minutes")), t.get("steps", "-"),
         _f(t.get("steps_per_second"), 3), _f(t.get("train_tokens_per_second")), t.get("train_precision", "-")]
        for side, t in train.items()
    ]  # fmt: skip
    print(format_table(["model", "BLEU", "chrF", "train min", "steps", "steps/s", "tokens/s", "precision"], rows))
    print("\n## Decoding the validation sources (`transfuse evaluate`, sentences/s over eval_runtime)\n")
    rows = []
    for side, decodes in results["decoding"].items():
        for name, d in decodes.items():
            cells = [d.get("precision", "-"), _f(d.get("bleu")), _f(d.get("length_ratio")), _f(d.get("seconds"))]
            rows.append([side, name, *cells, _f(d.get("sentences_per_second"))])
    print(format_table(["model", "decode", "precision", "BLEU", "length ratio", "s", "sentences/s"], rows))
    print("\n## Ratios\n")
    print(format_table(["ratio", "value"], [[k, _f(v, 3)] for k, v in results["ratios"].items()]))
    signatures = {t.get("bleu_signature") for t in train.values()} | {t.get("chrf_signature") for t in train.values()}
    print("\nsacreBLEU signatures: " + "; ".join(sorted(s for s in signatures if s)))


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if abs(value) < 100 else f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smoke mode: 40 steps on 384 rows, 64 rows decoded.")
    parser.add_argument("--work_dir", default="runs/bench_translation", help="Tokenizer, BART init, runs, decodes.")
    parser.add_argument("--max_train_minutes", type=float, default=45.0, help="Training time budget of each run.")
    parser.add_argument("--max_steps", type=int, default=None, help="Override the recipe's max_steps.")
    parser.add_argument("--parallel", action="store_true", help="Both runs at once, one thread each.")
    parser.add_argument("--threads", type=int, default=None, help="Threads per run without --parallel (default all).")
    parser.add_argument("--retrain", action="store_true", help="Train and decode again even where results exist.")
    parser.add_argument("--no_decode", action="store_true", help="Skip the decoding section.")
    parser.add_argument("--json", default=None, help="Also write the results here.")
    options = parser.parse_args()

    work = Path(options.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(CONFIG.read_text())
    values = options_of(config, options.quick, options.max_steps)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    threads = 1 if options.parallel else options.threads
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env_note = f"OMP_NUM_THREADS={threads}" if threads else ""

    rows = train_rows(values)
    tokenizer = build_tokenizer(values, rows, work / "tokenizer")
    build_bart(values, tokenizer, work / "bart_init")
    epoch_tokens = source_target_tokens(values, tokenizer, rows)
    bart_recipe = {k: v for k, v in config.items() if k not in SCRATCH_KEYS}
    bart_recipe["model_name_or_path"] = str(work / "bart_init")
    (work / "bart_recipe.yaml").write_text(
        f"# {CONFIG.relative_to(REPO)} without {', '.join(SCRATCH_KEYS)}, from the BART initialisation\n"
        + yaml.safe_dump(bart_recipe, sort_keys=False)
    )
    overrides = {key: values[key] for key in (QUICK if options.quick else {})}
    if options.max_steps:
        overrides["max_steps"] = options.max_steps
    flags = [word for key, value in overrides.items() for word in (f"--{key}", str(value))]
    common = [
        "--tokenizer_name", str(work / "tokenizer"), "--max_train_minutes", str(options.max_train_minutes),
        *flags, "--overwrite_output_dir", "true", "--disable_tqdm", "true", "--report_to", "none",
    ]  # fmt: skip
    recipes = {"transfuse": CONFIG, "bart": work / "bart_recipe.yaml"}
    print(f"== training ({'in parallel, 1 thread each' if options.parallel else 'one after the other'})")
    jobs = [
        job(side, transfuse_argv("train", "translation", str(recipes[side]), "--output_dir", str(work / side),
                                 *common), work / side, options.retrain, env_note)
        for side in SIDES
    ]  # fmt: skip
    run_jobs(jobs, env, options.parallel)

    results: dict[str, Any] = {
        "environment": environment(),
        "settings": {**vars(options), "recipe": str(CONFIG.relative_to(REPO)), "overrides": overrides},
        "train_rows": len(rows),
        "train_tokens_per_epoch": epoch_tokens,
        "commands": {"train": {j["name"]: j["command"] for j in jobs}, "decode": {}},
        "training": {},
        "decoding": {},
    }
    for side in SIDES:
        metrics = read_metrics(work / side)
        results["training"][side] = (
            training_summary(metrics, values, epoch_tokens, len(rows)) if metrics else {"status": "failed"}
        )

    if not options.no_decode:
        print("== decoding the validation sources")
        eval_flags = ["--max_eval_samples", str(values["max_eval_samples"])] if options.quick else []
        eval_flags += [word for key in DECODING_KEYS if key in values for word in (f"--{key}", str(values[key]))]
        decode_jobs = []
        for beams, precision in DECODES:
            name = f"beam{beams}_{precision}"
            for side in SIDES:
                if not read_metrics(work / side):
                    continue
                argv = transfuse_argv(
                    "evaluate", "translation", "--model_name_or_path", str(work / side),
                    "--validation_file", str(values["validation_file"]), "--num_beams", str(beams),
                    "--per_device_eval_batch_size", str(values["per_device_eval_batch_size"]), *eval_flags,
                    *(["--fp32", "true"] if precision == "fp32" else []),
                    "--output_dir", str(work / "decode" / f"{side}_{name}"), "--disable_tqdm", "true",
                    "--report_to", "none",
                )  # fmt: skip
                decode_jobs.append(job(f"{side}_{name}", argv, work / "decode" / f"{side}_{name}", options.retrain,
                                       env_note))  # fmt: skip
        # the two models' decodes of one setting side by side (with --parallel at the same time)
        for index in range(0, len(decode_jobs), 2):
            run_jobs(decode_jobs[index : index + 2], env, options.parallel)
        for entry in decode_jobs:
            side, name = entry["name"].split("_", 1)
            results["commands"]["decode"][entry["name"]] = entry["command"]
            metrics = read_metrics(entry["out"])
            results["decoding"].setdefault(side, {})[name] = decode_summary(metrics) if metrics else {"failed": True}

    train, decode = results["training"], results["decoding"]
    speed = {side: {k: v.get("sentences_per_second") for k, v in decode.get(side, {}).items()} for side in SIDES}
    ours = decode.get("transfuse", {})
    ours_speed, bart_speed = speed["transfuse"], speed["bart"]
    results["ratios"] = {
        "train tokens/s transfuse / BART": ratio(
            train["transfuse"].get("train_tokens_per_second"), train["bart"].get("train_tokens_per_second")
        ),
        "train steps/s transfuse / BART": ratio(
            train["transfuse"].get("steps_per_second"), train["bart"].get("steps_per_second")
        ),
        "beam-4 decoding (bf16) transfuse / BART": ratio(ours_speed.get("beam4_bf16"), bart_speed.get("beam4_bf16")),
        "beam-4 decoding (fp32) transfuse / BART": ratio(ours_speed.get("beam4_fp32"), bart_speed.get("beam4_fp32")),
        "transfuse beam-4 decoding bf16 / fp32": ratio(ours_speed.get("beam4_bf16"), ours_speed.get("beam4_fp32")),
        "transfuse greedy decoding bf16 / fp32": ratio(ours_speed.get("beam1_bf16"), ours_speed.get("beam1_fp32")),
    }
    for beams in (1, 4):
        fp32, bf16 = ours.get(f"beam{beams}_fp32", {}), ours.get(f"beam{beams}_bf16", {})
        if fp32.get("bleu") is not None and bf16.get("bleu") is not None:
            results["ratios"][f"transfuse beam-{beams} BLEU bf16 - fp32 (target within 0.3)"] = (
                bf16["bleu"] - fp32["bleu"]
            )
    print("\n== commands")
    for section in ("train", "decode"):
        for name, command in results["commands"][section].items():
            print(f"{section} {name}: {command}")
    print_report(results)
    if options.json:
        save_json(options.json, results)


if __name__ == "__main__":
    main()
