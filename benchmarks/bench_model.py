"""Training and generation throughput of the transfuse Transformer against its Hugging Face peers.

Each transfuse architecture is paired with the `transformers` model of the same design and size:

    encoder + masked LM        vs  BertForMaskedLM                (post-norm, gelu, embedding LayerNorm)
    ... with sparse prediction vs  BertForMaskedLM                (`transfuse pretrain`'s default: only the
                                                                   masked 15% reach the vocabulary projection)
    decoder + causal LM        vs  GPT2LMHeadModel                (pre-norm, gelu_new, final LayerNorm)
    encoder-decoder + seq2seq  vs  BartForConditionalGeneration   (post-norm, gelu, embedding LayerNorms)

Both sides get the same widths, the same dropout, the same batch tensors and their default SDPA attention.
A training step is forward + backward + fused AdamW step (the `Trainer` default optimiser); generation is
greedy `generate()` with the end-of-sequence token disabled so both sides produce exactly the same number of
tokens. Models of a pair run interleaved in one process, round after round (the order flips every round), so
that load from other processes hits both alike; a figure is the median over rounds, and a ratio is the median
of the per-round ratios transfuse / peer (> 1: transfuse is faster), shown with their interquartile range and
next to the same ratio computed from process CPU seconds, which the load of other processes disturbs less.

    python benchmarks/bench_model.py                     # full run, ~5 min on 2 idle cores
    python benchmarks/bench_model.py --quick             # smoke run, well under a minute
    python benchmarks/bench_model.py --only train --rounds 7 --steps 4 --json results/bench_model.json
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Any

import torch
import transformers
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
)

from common import Timer, environment, format_table, interquartile_range, median, peak_rss_mib, save_json
from transfuse.modeling import (
    TransfuseConfig,
    TransfuseForCausalLM,
    TransfuseForConditionalGeneration,
    TransfuseForMaskedLM,
)

PAD, BOS, EOS, MASK = 0, 2, 3, 4  # the special ids of transfuse tokenizers; no real token id is below 5


@dataclass(frozen=True)
class Dims:
    """Sizes shared by every model and batch of the benchmark."""

    layers: int = 4
    hidden: int = 256
    heads: int = 4
    ffn: int = 1024
    vocab: int = 8000
    max_positions: int = 512
    dropout: float = 0.1
    seq: int = 128  # training sequence length (source and target length for the encoder-decoder)
    batch: int = 16  # training batch size
    prompt: int = 32  # generation prompt length (the encoder input for the encoder-decoder)
    new_tokens: int = 128  # tokens generated per sequence
    generate_batches: tuple[int, ...] = (1, 8)


QUICK_DIMS = Dims(seq=32, batch=4, prompt=8, new_tokens=8, generate_batches=(1, 2))


# ---------------------------------------------------------------------------------------------------------
# Models: each transfuse design next to the HF peer it is measured against
# ---------------------------------------------------------------------------------------------------------


def _transfuse_config(d: Dims, architecture: str, **design: Any) -> TransfuseConfig:
    return TransfuseConfig(
        architecture=architecture,
        vocab_size=d.vocab,
        hidden_size=d.hidden,
        num_attention_heads=d.heads,
        num_hidden_layers=d.layers,
        intermediate_size=d.ffn,
        max_position_embeddings=d.max_positions,
        hidden_dropout_prob=d.dropout,
        attention_dropout=d.dropout,
        position_embedding_type="learned",
        scale_embedding=False,
        pad_token_id=PAD,
        bos_token_id=BOS,
        eos_token_id=EOS,
        **design,
    )


def transfuse_bert_like(d: Dims) -> PreTrainedModel:
    return TransfuseForMaskedLM(_transfuse_config(d, "encoder", pre_norm=False, hidden_act="gelu"))


def transfuse_bert_like_sparse(d: Dims) -> PreTrainedModel:
    """The same model with `sparse_prediction` (as `transfuse pretrain` builds it): same loss, less work."""
    return TransfuseForMaskedLM(
        _transfuse_config(d, "encoder", pre_norm=False, hidden_act="gelu", sparse_prediction=True)
    )


def bert(d: Dims) -> PreTrainedModel:
    return BertForMaskedLM(
        BertConfig(
            vocab_size=d.vocab,
            hidden_size=d.hidden,
            num_hidden_layers=d.layers,
            num_attention_heads=d.heads,
            intermediate_size=d.ffn,
            hidden_act="gelu",
            hidden_dropout_prob=d.dropout,
            attention_probs_dropout_prob=d.dropout,
            max_position_embeddings=d.max_positions,
            pad_token_id=PAD,
        )
    )


def transfuse_gpt2_like(d: Dims) -> PreTrainedModel:
    return TransfuseForCausalLM(_transfuse_config(d, "decoder", pre_norm=True, hidden_act="gelu_new"))


def gpt2(d: Dims) -> PreTrainedModel:
    return GPT2LMHeadModel(
        GPT2Config(
            vocab_size=d.vocab,
            n_positions=d.max_positions,
            n_embd=d.hidden,
            n_layer=d.layers,
            n_head=d.heads,
            n_inner=d.ffn,
            activation_function="gelu_new",
            resid_pdrop=d.dropout,
            embd_pdrop=d.dropout,
            attn_pdrop=d.dropout,
            pad_token_id=PAD,
            bos_token_id=BOS,
            eos_token_id=EOS,
        )
    )


def transfuse_bart_like(d: Dims) -> PreTrainedModel:
    return TransfuseForConditionalGeneration(
        _transfuse_config(d, "encoder-decoder", pre_norm=False, hidden_act="gelu", decoder_start_token_id=BOS)
    )


def bart(d: Dims) -> PreTrainedModel:
    # like transfuse: dropout on embeddings, residual branches and attention probabilities, none inside the FFN
    return BartForConditionalGeneration(
        BartConfig(
            vocab_size=d.vocab,
            max_position_embeddings=d.max_positions,
            d_model=d.hidden,
            encoder_layers=d.layers,
            decoder_layers=d.layers,
            encoder_attention_heads=d.heads,
            decoder_attention_heads=d.heads,
            encoder_ffn_dim=d.ffn,
            decoder_ffn_dim=d.ffn,
            activation_function="gelu",
            dropout=d.dropout,
            attention_dropout=d.dropout,
            activation_dropout=0.0,
            scale_embedding=False,
            pad_token_id=PAD,
            bos_token_id=BOS,
            eos_token_id=EOS,
            decoder_start_token_id=BOS,
            forced_eos_token_id=None,
        )
    )


# ---------------------------------------------------------------------------------------------------------
# Batches: one set of tensors fed to both sides of a pair
# ---------------------------------------------------------------------------------------------------------


def _token_ids(d: Dims, batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(MASK + 1, d.vocab, (batch, length), generator=generator)  # (B, T), no special ids


def masked_lm_batch(d: Dims, generator: torch.Generator) -> dict[str, torch.Tensor]:
    input_ids = _token_ids(d, d.batch, d.seq, generator)
    masked = torch.rand(input_ids.shape, generator=generator) < 0.15
    labels = input_ids.masked_fill(~masked, -100)
    return {
        "input_ids": input_ids.masked_fill(masked, MASK),
        "attention_mask": torch.ones_like(input_ids),
        "labels": labels,
    }


def causal_lm_batch(d: Dims, generator: torch.Generator) -> dict[str, torch.Tensor]:
    input_ids = _token_ids(d, d.batch, d.seq, generator)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": input_ids.clone()}


def seq2seq_batch(d: Dims, generator: torch.Generator) -> dict[str, torch.Tensor]:
    input_ids = _token_ids(d, d.batch, d.seq, generator)
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "labels": _token_ids(d, d.batch, d.seq, generator),
    }


@dataclass(frozen=True)
class Pairing:
    task: str
    peer: str
    build_transfuse: Callable[[Dims], PreTrainedModel]
    build_peer: Callable[[Dims], PreTrainedModel]
    make_batch: Callable[[Dims, torch.Generator], dict[str, torch.Tensor]]
    generates: bool


PAIRINGS = (
    Pairing("encoder + masked LM", "BERT", transfuse_bert_like, bert, masked_lm_batch, generates=False),
    Pairing("encoder + sparse MLM", "BERT", transfuse_bert_like_sparse, bert, masked_lm_batch, generates=False),
    Pairing("decoder + causal LM", "GPT-2", transfuse_gpt2_like, gpt2, causal_lm_batch, generates=True),
    Pairing("encoder-decoder", "BART", transfuse_bart_like, bart, seq2seq_batch, generates=True),
)


def build_pair(pairing: Pairing, d: Dims) -> dict[str, PreTrainedModel]:
    models = {}
    for side, build in (("transfuse", pairing.build_transfuse), (pairing.peer, pairing.build_peer)):
        torch.manual_seed(0)
        models[side] = build(d)
    return models


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # shared (tied) tensors count once


# ---------------------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------------------


def train_step(
    model: PreTrainedModel,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    autocast_dtype: torch.dtype | None,
) -> None:
    """forward + backward + optimiser step: one full training step."""
    autocast = torch.autocast("cpu", dtype=autocast_dtype) if autocast_dtype else nullcontext()
    with autocast:
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def interleaved_rounds(
    run: Callable[[str], Timer],
    sides: list[str],
    rounds: int,
    warmup: int,
) -> dict[str, list[Timer]]:
    """The timings of `run(side)` for each side, `rounds` times, alternating which side goes first."""
    for _ in range(warmup):
        for side in sides:
            run(side)
    timings: dict[str, list[Timer]] = {side: [] for side in sides}
    for r in range(rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            timings[side].append(run(side))
    return timings


def throughput_row(
    section: str,
    task: str,
    peer: str,
    tokens: int,
    timings: dict[str, list[Timer]],
) -> dict[str, Any]:
    ours, theirs = timings["transfuse"], timings[peer]
    ratios = [t.seconds / o.seconds for o, t in zip(ours, theirs)]  # per-round speed ratio transfuse / peer
    cpu_ratios = [t.cpu_seconds / o.cpu_seconds for o, t in zip(ours, theirs)]
    return {
        "section": section,
        "task": task,
        "peer": peer,
        "tokens_per_round": tokens,
        "rounds": len(ours),
        "transfuse_tokens_per_s": tokens / median([o.seconds for o in ours]),
        "peer_tokens_per_s": tokens / median([t.seconds for t in theirs]),
        "ratio": median(ratios),
        "ratio_iqr": interquartile_range(ratios),
        "transfuse_tokens_per_cpu_s": tokens / median([o.cpu_seconds for o in ours]),
        "peer_tokens_per_cpu_s": tokens / median([t.cpu_seconds for t in theirs]),
        "cpu_time_ratio": median(cpu_ratios),
    }


def bench_training(pairing: Pairing, d: Dims, args: argparse.Namespace) -> list[dict[str, Any]]:
    models = build_pair(pairing, d)
    optimizers = {side: torch.optim.AdamW(m.parameters(), lr=1e-4, fused=True) for side, m in models.items()}
    batch = pairing.make_batch(d, torch.Generator().manual_seed(0))
    tokens = args.steps * d.batch * d.seq
    rows = []
    for section, dtype in (("train fp32", None), ("train bf16 autocast", torch.bfloat16)):

        def run(side: str, dtype: torch.dtype | None = dtype) -> Timer:
            models[side].train()
            with Timer() as timer:
                for _ in range(args.steps):
                    train_step(models[side], optimizers[side], batch, dtype)
            return timer

        timings = interleaved_rounds(run, list(models), args.rounds, args.warmup)
        rows.append(throughput_row(section, pairing.task, pairing.peer, tokens, timings))
        report_progress(rows[-1])
    return rows


def greedy_config(model: PreTrainedModel, d: Dims) -> GenerationConfig:
    """Greedy decoding of exactly `d.new_tokens` tokens: no end-of-sequence token, no forced tokens."""
    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=d.new_tokens,
        min_new_tokens=d.new_tokens,
        eos_token_id=None,
        forced_eos_token_id=None,
        forced_bos_token_id=None,
        pad_token_id=PAD,
        bos_token_id=BOS,
        decoder_start_token_id=BOS if model.config.is_encoder_decoder else None,
        use_cache=True,
    )


def bench_generation(pairing: Pairing, d: Dims, args: argparse.Namespace) -> list[dict[str, Any]]:
    models = build_pair(pairing, d)
    for model in models.values():
        model.eval()
    configs = {side: greedy_config(m, d) for side, m in models.items()}
    rows = []
    for batch_size in d.generate_batches:
        prompt = _token_ids(d, batch_size, d.prompt, torch.Generator().manual_seed(batch_size))

        def run(side: str, prompt: torch.Tensor = prompt) -> Timer:
            with torch.inference_mode(), Timer() as timer:
                out = models[side].generate(
                    input_ids=prompt, attention_mask=torch.ones_like(prompt), generation_config=configs[side]
                )
            start = 1 if models[side].config.is_encoder_decoder else prompt.shape[1]  # decoder start / prompt
            assert out.shape == (prompt.shape[0], start + d.new_tokens), f"{side} generated {tuple(out.shape)}"
            return timer

        timings = interleaved_rounds(run, list(models), args.rounds, args.warmup)
        rows.append(
            throughput_row(
                f"generate batch {batch_size}", pairing.task, pairing.peer, batch_size * d.new_tokens, timings
            )
        )
        report_progress(rows[-1])
    return rows


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------

TABLE_HEADERS = (
    "section",
    "transfuse model",
    "tokens/s",
    "peer",
    "peer tokens/s",
    "ratio",
    "ratio IQR",
    "CPU-time ratio",
)


def _rows_table(rows: list[dict[str, Any]]) -> tuple[tuple[str, ...], list[list[Any]]]:
    return TABLE_HEADERS, [
        [
            r["section"],
            r["task"],
            r["transfuse_tokens_per_s"],
            r["peer"],
            r["peer_tokens_per_s"],
            f"{r['ratio']:.2f}x",
            "{:.2f}-{:.2f}".format(*r["ratio_iqr"]),
            f"{r['cpu_time_ratio']:.2f}x",
        ]
        for r in rows
    ]


def report_progress(row: dict[str, Any]) -> None:
    print(
        f"  {row['section']:<20} {row['task']:<20} transfuse {row['transfuse_tokens_per_s']:>9,.0f} tok/s  "
        f"{row['peer']:<5} {row['peer_tokens_per_s']:>9,.0f} tok/s  ratio {row['ratio']:.2f}x "
        "(IQR {:.2f}-{:.2f}), CPU-time ratio {:.2f}x".format(*row["ratio_iqr"], row["cpu_time_ratio"]),
        flush=True,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=11, help="measured rounds per model (median reported)")
    parser.add_argument("--steps", type=int, default=1, help="training steps per model per round")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds per model before measuring")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: short sequences, small batches, 1 round of 1 step, 8 new tokens",
    )
    parser.add_argument("--only", choices=("train", "generate"), help="run only the training or generation part")
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=[p.task for p in PAIRINGS],
        metavar="TASK",
        help="run only these pairings (default: all): " + ", ".join(repr(p.task) for p in PAIRINGS),
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--json", metavar="OUT", help="also write the settings and results to this JSON file")
    args = parser.parse_args(argv)
    for flag in ("rounds", "steps", "threads"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag}={getattr(args, flag)} must be at least 1.")
    if args.warmup < 0:
        parser.error(f"--warmup={args.warmup} must be 0 or more.")
    if args.quick:
        args.rounds, args.steps, args.warmup = 1, 1, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    dims = QUICK_DIMS if args.quick else Dims()
    transformers.logging.set_verbosity_error()
    env = {**environment(), "transformers": transformers.__version__}
    print(
        f"torch {env['torch']} ({env['cpu_capability']}), transformers {env['transformers']}, "
        f"{env['torch_threads']} threads | {dims.layers} layers, hidden {dims.hidden}, {dims.heads} heads, "
        f"FFN {dims.ffn}, vocab {dims.vocab}, dropout {dims.dropout} | train batch {dims.batch} x seq {dims.seq}, "
        f"{args.steps} steps/round | generate prompt {dims.prompt} + {dims.new_tokens} new | "
        f"{args.rounds} rounds + {args.warmup} warm-up",
        flush=True,
    )
    pairings = [p for p in PAIRINGS if args.tasks is None or p.task in args.tasks]
    for pairing in pairings:
        models = build_pair(pairing, dims)
        sizes = ", ".join(
            f"{side} {parameter_count(m) / 1e6:.2f}M ({m.config._attn_implementation})" for side, m in models.items()
        )
        print(f"  {pairing.task}: {sizes}")
    print()

    rows: list[dict[str, Any]] = []
    if args.only in (None, "train"):
        for pairing in pairings:
            rows += bench_training(pairing, dims, args)
    if args.only in (None, "generate"):
        for pairing in (p for p in pairings if p.generates):
            rows += bench_generation(pairing, dims, args)

    print(
        f"\ntokens/s: median over rounds; ratio: median of the per-round transfuse/peer speed ratios, "
        f"IQR: their 25th-75th percentiles; CPU-time ratio: the same from process CPU seconds, which neighbours' "
        f"load disturbs less (peak RSS {peak_rss_mib():,.0f} MiB)\n"
    )
    print(format_table(*_rows_table(rows)))
    if args.json:
        save_json(args.json, {"environment": env, "dims": asdict(dims), "args": vars(args), "results": rows})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
