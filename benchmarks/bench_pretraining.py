"""Pretraining benchmark: transfuse against an equal-sized HF GPT-2 / BERT, same script, same time budget.

For each architecture (a `small` decoder and a `small` encoder: 4 layers x 256, 4 heads, FFN 1024) and each
precision (fp32, bf16 autocast), the transfuse model and its `transformers` peer (GPT-2 for the decoder, BERT
for the encoder, built from a config of the same design through `--config_name`) are pretrained by the same
code, `transfuse.pretraining.run_pretraining` (what `transfuse pretrain` runs), on
`../shared/data/pretraining/en_public_domain` (train) for the same wall-clock budget, with one shared
byte-level BPE tokenizer. Reported per run: validation perplexity (on validation/, The Picture of Dorian
Gray), training tokens/s (block tokens per second of training), tokens per CPU-second (less sensitive to other
processes on a shared machine), steps, parameters. Then the pretrained transfuse encoder is fine-tuned on
SST-2 through `transfuse train classification` next to the same model from scratch, and the pretrained
transfuse decoder writes a short sample.

    python benchmarks/bench_pretraining.py --quick                       # smoke run: minutes
    python benchmarks/bench_pretraining.py --minutes 20                  # the issue's budget: 20 min per run
    python benchmarks/bench_pretraining.py --minutes 5 --precisions bf16 --json results/pretraining.json

The learning rate follows a time-based schedule (linear warm-up over the first 5% of the budget, cosine decay
to 10% at its end), so every run ends its decay exactly when its budget runs out, whatever its speed.

A process that pretrains only transfuse models applies the glibc malloc settings that `transfuse pretrain`
applies (`transfuse.allocator`; `--no-malloc` leaves glibc's defaults); the peers keep glibc's defaults, their
plain path. `--torch_compile` compiles the transfuse models (compilation counts against the budget).
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import BertConfig, GPT2Config, TrainerCallback, TrainingArguments

from common import SST2, environment, format_table, read_jsonl, save_json

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "pretraining" / "en_public_domain"
PROMPT = "It was a dark and stormy night, and"
DIMS = {"hidden": 256, "layers": 4, "heads": 4, "ffn": 1024, "positions": 512}


@dataclass(frozen=True)
class Contender:
    """One model of the comparison: transfuse with a peer-like design, or the `transformers` peer itself."""

    architecture: str  # encoder | decoder
    implementation: str  # transfuse | hf

    @property
    def name(self) -> str:
        peer = {"decoder": "GPT-2", "encoder": "BERT"}[self.architecture]
        return f"transfuse {self.architecture}" if self.implementation == "transfuse" else f"HF {peer}"

    def config_overrides(self) -> str | None:
        """transfuse in the peer's design: GPT-2 is pre-norm with the tanh GELU; neither scales the embeddings.

        GPT-2's `gelu_new` is the tanh approximation written as eight elementwise torch ops; transfuse computes the
        same function (outputs within 5e-7) with PyTorch's fused kernel, `gelu_pytorch_tanh`, which saves 7-10% of
        a decoder training step on this CPU in fp32 and bf16 alike.
        """
        if self.implementation != "transfuse":
            return None
        design = {"decoder": "pre_norm=true,hidden_act=gelu_pytorch_tanh", "encoder": "pre_norm=false,hidden_act=gelu"}
        return f"{design[self.architecture]},scale_embedding=false"

    def write_peer_config(self, folder: Path) -> str:
        """The HF peer's config (vocabulary and special ids are set from the tokenizer by the pipeline)."""
        if self.architecture == "decoder":
            config = GPT2Config(
                n_embd=DIMS["hidden"],
                n_layer=DIMS["layers"],
                n_head=DIMS["heads"],
                n_inner=DIMS["ffn"],
                n_positions=DIMS["positions"],
                activation_function="gelu_new",
            )
        else:
            config = BertConfig(
                hidden_size=DIMS["hidden"],
                num_hidden_layers=DIMS["layers"],
                num_attention_heads=DIMS["heads"],
                intermediate_size=DIMS["ffn"],
                max_position_embeddings=DIMS["positions"],
                hidden_act="gelu",
            )
        config.save_pretrained(folder)
        return str(folder)


class TimeCosineSchedule(TrainerCallback):
    """Learning rate as a function of elapsed training time: linear warm-up over `warmup` of the budget, then
    cosine decay to `floor` x peak at its end; installed as the lambda of the Trainer's constant scheduler."""

    def __init__(self, budget_seconds: float, warmup: float = 0.05, floor: float = 0.1):
        self.budget, self.warmup, self.floor = budget_seconds, warmup, floor
        self.start = 0.0

    def factor(self, _step: int) -> float:
        progress = min((time.perf_counter() - self.start) / self.budget, 1.0)
        if progress < self.warmup:
            return max(progress / self.warmup, 1e-3)
        cosine = 0.5 * (1 + math.cos(math.pi * (progress - self.warmup) / (1 - self.warmup)))
        return self.floor + (1 - self.floor) * cosine

    def on_train_begin(self, args, state, control, lr_scheduler=None, **kwargs):
        self.start = time.perf_counter()
        scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate may wrap it
        scheduler.lr_lambdas = [self.factor for _ in scheduler.lr_lambdas]


def prepare_corpus(args: argparse.Namespace, workdir: Path) -> tuple[list[str], list[str]]:
    """The corpus folders, or (quick) the first lines of a few books as small stand-ins."""
    train, validation = sorted(map(str, (CORPUS / "train").glob("*.txt"))), [str(CORPUS / "validation")]
    if not args.quick:
        return train, validation
    quick = workdir / "quick_corpus"
    quick.mkdir(parents=True, exist_ok=True)
    subsets = []
    for index, source in enumerate([*train[:3], str(CORPUS / "validation" / "gutenberg_pg174.txt")]):
        lines = Path(source).read_text(encoding="utf-8").splitlines()[: 1500 if index < 3 else 300]
        subsets.append(quick / f"{index}_{Path(source).name}")
        subsets[-1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [str(p) for p in subsets[:3]], [str(subsets[3])]


def train_shared_tokenizer(train_files: list[str], folder: Path, vocab_size: int) -> str:
    """One byte-level BPE tokenizer for every contender (`transfuse tokenizer train`)."""
    if not (folder / "tokenizer.json").is_file():
        from transfuse.cli.main import main as transfuse

        assert (
            transfuse(
                [
                    "tokenizer",
                    "train",
                    "--train_files",
                    *train_files,
                    "--vocab_size",
                    str(vocab_size),
                    "--model_max_length",
                    str(DIMS["positions"]),
                    "--output_dir",
                    str(folder),
                ]
            )
            == 0
        )
    return str(folder)


def pretrain(
    contender: Contender, bf16: bool, args: argparse.Namespace, tokenizer: str, files: tuple, workdir: Path
) -> dict[str, Any]:
    from transfuse.common.arguments import ModelArguments
    from transfuse.pretraining import CorpusArguments, PretrainingArguments, run_pretraining

    tag = f"{contender.implementation}-{contender.architecture}-{'bf16' if bf16 else 'fp32'}"
    output_dir = workdir / "runs" / tag
    is_peer = contender.implementation == "hf"
    model_args = ModelArguments(
        architecture=contender.architecture,
        preset=None if is_peer else "small",
        config_overrides=",".join(
            filter(None, [contender.config_overrides(), None if is_peer else args.transfuse_overrides])
        ),
        tokenizer_name=tokenizer,
    )
    pretraining_args = PretrainingArguments(
        config_name=contender.write_peer_config(workdir / f"config-{tag}") if is_peer else None,
        max_train_minutes=args.minutes,
        overwrite_output_dir=True,
    )
    block_size = args.block_size[contender.architecture]
    corpus_args = CorpusArguments(train_files=files[0], validation_files=files[1], block_size=block_size)
    training_args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=10**7,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64,
        learning_rate=args.learning_rate[contender.architecture],
        lr_scheduler_type="constant",
        weight_decay=0.01,
        bf16=bf16,
        use_cpu=not torch.accelerator.is_available(),
        logging_steps=25,
        save_strategy="no",
        report_to="none",
        seed=args.seed,
        dataloader_pin_memory=False,
        disable_tqdm=True,
        torch_compile=args.torch_compile and not is_peer,
    )
    results = run_pretraining(
        model_args,
        pretraining_args,
        corpus_args,
        training_args,
        command=f"benchmarks/bench_pretraining.py ({tag})",
        callbacks=[TimeCosineSchedule(60 * args.minutes)],
    )
    train = results["train"]
    steps = round(train["train_steps_per_second"] * train["train_runtime"])
    tokens = steps * args.batch_size * block_size
    return {
        "model": contender.name,
        "architecture": contender.architecture,
        "precision": "bf16" if bf16 else "fp32",
        "parameters": results["num_parameters"],
        "steps": steps,
        "train_tokens": tokens,
        "tokens_per_s": train["train_tokens_per_second"],
        "tokens_per_cpu_s": train["train_tokens_per_cpu_second"],
        "train_loss": train["train_loss"],
        "val_loss": results["eval"]["loss"],
        "val_perplexity": results["eval"]["perplexity"],
        "run_dir": str(output_dir),
    }


def as_flags(options: dict[str, Any]) -> list[str]:
    """`{"max_steps": 10, "seed": None}` -> `["--max_steps", "10"]`: None leaves the flag at its default."""
    return [item for name, value in options.items() if value is not None for item in (f"--{name}", str(value))]


def finetune_sst2(
    architecture: str, model_dir: str | None, tokenizer: str, args: argparse.Namespace, output_dir: Path
) -> float:
    """SST-2 validation accuracy after `transfuse train classification` from `model_dir` (None: the same
    transfuse design from scratch, with the same tokenizer)."""
    import json

    from transfuse.cli.main import main as transfuse

    design = Contender(architecture, "transfuse").config_overrides()
    source = (
        {"model_name_or_path": model_dir, "config_overrides": args.ft_config_overrides}
        if model_dir
        else {
            "preset": "small",
            "architecture": architecture,
            "tokenizer_name": tokenizer,
            "config_overrides": ",".join(filter(None, [design, args.ft_config_overrides])),
        }
    )
    options = {
        **source,
        "train_file": SST2 / "train.jsonl",
        "validation_file": SST2 / "validation.jsonl",
        "max_seq_length": 64,
        "learning_rate": args.ft_learning_rate,
        "warmup_steps": args.ft_steps // 10,
        "max_steps": args.ft_steps,
        "per_device_train_batch_size": 32,
        "per_device_eval_batch_size": 128,
        "weight_decay": 0.01,
        "logging_steps": 50,
        "save_strategy": "no",
        "eval_strategy": "no",
        "seed": args.seed,
        "disable_tqdm": "true",
        "output_dir": output_dir,
    }
    if args.ft_bf16:
        options.update(bf16="true", use_cpu=str(not torch.accelerator.is_available()).lower())
    if args.quick:
        options["max_train_samples"] = 512
    argv = [
        "train",
        "classification",
        *as_flags(options),
        "--class_names",
        "negative",
        "positive",
        "--overwrite_output_dir",
    ]
    assert transfuse(argv) == 0, shlex.join(argv)
    return json.loads((output_dir / "metrics.json").read_text())["eval"]["accuracy"]


def adapt_to_sst2(run_dir: str, args: argparse.Namespace, workdir: Path) -> str:
    """Task-adaptive pretraining (Gururangan et al. 2020): `transfuse pretrain` continues the encoder's masked-LM
    training on the SST-2 training sentences, without their labels, for `--tapt_minutes`."""
    from transfuse.cli.main import main as transfuse

    text = workdir / "sst2_text"
    text.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation"):
        rows = read_jsonl(SST2 / f"{split}.jsonl")
        (text / f"{split}.txt").write_text("".join(row["text"] + "\n" for row in rows), encoding="utf-8")
    output_dir = workdir / "runs" / "transfuse-encoder-sst2-adapted"
    options = {
        "architecture": "encoder",
        "model_name_or_path": run_dir,
        "train_files": text / "train.txt",
        "validation_files": text / "validation.txt",
        "block_size": args.encoder_block_size,
        "max_train_minutes": args.tapt_minutes,
        "max_steps": 10**7,
        "learning_rate": args.encoder_learning_rate,
        "lr_scheduler_type": "constant_with_warmup",
        "warmup_steps": 50,
        "per_device_train_batch_size": args.batch_size,
        "weight_decay": 0.01,
        "logging_steps": 50,
        "save_strategy": "no",
        "seed": args.seed,
        "disable_tqdm": "true",
        "output_dir": output_dir,
    }
    argv = ["pretrain", *as_flags(options), "--overwrite_output_dir"]
    assert transfuse(argv) == 0, shlex.join(argv)
    return str(output_dir)


def sample(run_dir: str, args: argparse.Namespace) -> dict[str, str]:
    from transformers import set_seed

    from transfuse.generation import (
        GenerationArguments,
        build_generation_config,
        generate_text,
        load_for_generation,
    )

    model, tokenizer = load_for_generation(run_dir)
    samples = {}
    for name, options in {
        "greedy": {"repetition_penalty": 1.3},
        "top-p 0.9, temperature 0.8": {"do_sample": True, "top_p": 0.9, "temperature": 0.8},
    }.items():
        config = build_generation_config(
            model,
            tokenizer,
            GenerationArguments(
                model_name_or_path=run_dir, prompt=[PROMPT], max_new_tokens=args.sample_tokens, **options
            ),
        )
        set_seed(args.seed)
        samples[name] = PROMPT + generate_text(model, tokenizer, [PROMPT], config)[0][0]
    return samples


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="training budget per run (default 20)")
    parser.add_argument(
        "--architectures",
        nargs="*",
        default=["decoder", "encoder"],
        choices=["decoder", "encoder"],
        help="models to pretrain now (none: only fine-tune --pretrained_encoder on SST-2)",
    )
    parser.add_argument("--implementations", nargs="+", default=["transfuse", "hf"], choices=["transfuse", "hf"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument(
        "--transfuse_overrides",
        default=None,
        help="extra config overrides for the transfuse models, e.g. sparse_prediction=false",
    )
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--decoder_learning_rate", type=float, default=1e-3, help="peak learning rate, decoders")
    parser.add_argument(
        "--encoder_learning_rate",
        type=float,
        default=5e-4,
        help="peak learning rate, encoders (post-norm, as BERT: at 1e-3 the transfuse encoder stalled on the unigram "
        "plateau for a whole 20-minute run)",
    )
    parser.add_argument("--vocab_size", type=int, default=8000)
    parser.add_argument("--decoder_block_size", type=int, default=256)
    parser.add_argument("--encoder_block_size", type=int, default=128)
    parser.add_argument("--ft_steps", type=int, default=1500, help="SST-2 fine-tuning steps (batch 32); 0 skips")
    parser.add_argument("--ft_learning_rate", type=float, default=3e-4)
    parser.add_argument(
        "--ft_config_overrides",
        default=None,
        help="config overrides of both SST-2 classifiers, pretrained and from scratch (e.g. classifier_pooling=mean)",
    )
    parser.add_argument(
        "--sst2_from",
        nargs="+",
        default=["encoder"],
        choices=["encoder", "decoder"],
        help="pretrained transfuse models fine-tuned on SST-2 next to the same model from scratch",
    )
    parser.add_argument(
        "--pretrained_encoder",
        default=None,
        help="a transfuse encoder run folder pretrained earlier (by this script): fine-tuned on SST-2 instead of "
        "pretraining one now",
    )
    parser.add_argument(
        "--sst2_starts",
        nargs="+",
        default=["pretrained", "from scratch"],
        choices=["pretrained", "from scratch"],
        help="which SST-2 runs to make (one each per process lets two cores run them side by side)",
    )
    parser.add_argument(
        "--tapt_minutes",
        type=float,
        default=0.0,
        help="before fine-tuning, continue the pretrained encoder's masked-LM training on the SST-2 training "
        "sentences (no labels) for this long (task-adaptive pretraining; 0: off)",
    )
    parser.add_argument(
        "--ft_bf16",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fine-tune SST-2 under bf16 autocast (default; --no-ft_bf16 for fp32)",
    )
    parser.add_argument(
        "--torch_compile",
        action="store_true",
        help="compile the transfuse models (the Trainer's --torch_compile; the peers run eagerly, their plain path)",
    )
    parser.add_argument(
        "--malloc",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="in a process that pretrains only transfuse models, apply the glibc malloc settings that `transfuse "
        "pretrain` applies (transfuse/allocator.py); the peers keep glibc's defaults, their plain path "
        "(default; --no-malloc: glibc's defaults for all)",
    )
    parser.add_argument("--sample_tokens", type=int, default=60)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default=None, help="where runs go (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="write settings, environment and every figure here")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small corpus, 0.25 min per run, short fine-tuning"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.ft_steps, args.sample_tokens = min(args.minutes, 0.25), min(args.ft_steps, 30), 20
        args.vocab_size, args.decoder_block_size, args.encoder_block_size = 1000, 64, 64
    args.block_size = {"decoder": args.decoder_block_size, "encoder": args.encoder_block_size}
    args.learning_rate = {"decoder": args.decoder_learning_rate, "encoder": args.encoder_learning_rate}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.malloc and args.architectures and args.implementations == ["transfuse"]:
        from transfuse.allocator import apply_malloc_settings

        args.malloc_applied = apply_malloc_settings()  # process-wide: the reason it waits for a transfuse-only run
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_pretraining-"))
    files = prepare_corpus(args, workdir)
    tokenizer = train_shared_tokenizer(files[0], workdir / f"tokenizer-{args.vocab_size}", args.vocab_size)

    rows = []
    for architecture in args.architectures:
        for precision in args.precisions:
            for implementation in args.implementations:
                row = pretrain(
                    Contender(architecture, implementation),
                    precision == "bf16",
                    args,
                    tokenizer,
                    files,
                    workdir,
                )
                rows.append(row)
                print(
                    f"[bench_pretraining] {row['model']} {precision}: val ppl {row['val_perplexity']:.2f}, "
                    f"{row['tokens_per_s']:.0f} tokens/s, {row['steps']} steps",
                    flush=True,
                )
    if rows:
        headers = (
            "model",
            "precision",
            "parameters",
            "steps",
            "train tokens",
            "tokens/s",
            "tokens/CPU-s",
            "val loss",
            "val perplexity",
        )
        table = format_table(
            headers,
            [
                [
                    r["model"],
                    r["precision"],
                    f"{r['parameters']:,}",
                    r["steps"],
                    f"{r['train_tokens']:,}",
                    r["tokens_per_s"],
                    r["tokens_per_cpu_s"],
                    r["val_loss"],
                    r["val_perplexity"],
                ]
                for r in rows
            ],
        )
        print(f"\nPretraining, {args.minutes:g} min per run ({'quick' if args.quick else 'full'} corpus):\n{table}")

    report: dict[str, Any] = {
        "settings": {k: v for k, v in vars(args).items()},
        "environment": environment(),
        "pretraining": rows,
    }
    ours = {r["architecture"]: r["run_dir"] for r in rows if r["model"].startswith("transfuse")}
    if args.pretrained_encoder:
        ours["encoder"] = args.pretrained_encoder
    sst2_rows = []
    for architecture in args.sst2_from if args.ft_steps > 0 else []:
        if architecture in ours:
            for start in args.sst2_starts:
                model_dir = ours[architecture] if start == "pretrained" else None
                if model_dir and args.tapt_minutes > 0:
                    model_dir, start = adapt_to_sst2(model_dir, args, workdir), "pretrained + SST-2 text"
                accuracy = finetune_sst2(
                    architecture,
                    model_dir,
                    tokenizer,
                    args,
                    workdir / f"sst2-{architecture}-{re.sub('[^a-zA-Z0-9]+', '-', start)}",
                )
                sst2_rows.append({"architecture": architecture, "start": start, "accuracy": accuracy})
    if sst2_rows:
        report["sst2"] = sst2_rows
        print(f"\nSST-2 validation accuracy, small transfuse models, {args.ft_steps} fine-tuning steps:")
        print(
            format_table(
                ("model", "start", "accuracy"),
                [[row["architecture"], row["start"], f"{row['accuracy']:.4f}"] for row in sst2_rows],
            )
        )
    if "decoder" in ours:
        report["samples"] = sample(ours["decoder"], args)
        for name, text in report["samples"].items():
            print(f"\nSample ({name}): {text}")
    if args.json:
        save_json(args.json, report)
    print(f"\nruns in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
