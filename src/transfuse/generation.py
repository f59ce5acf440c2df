"""Text generation: prompts in, text out, from a pretraining run folder or any causal / seq2seq LM.

`transfuse generate` and `scripts/run_generation.py` are thin layers over three functions:

* `load_for_generation(path)`: the model (`AutoModelForSeq2SeqLM` when the config is encoder-decoder, else
  `AutoModelForCausalLM`; ours or any Hub/local checkpoint) and its tokenizer, checked against each other;
* `build_generation_config(model, tokenizer, args)`: greedy, sampling (temperature, top-k, top-p), beam
  search, repetition penalty and length as a `transformers.GenerationConfig`;
* `generate_text(model, tokenizer, prompts, config, ...)`: batched `model.generate` (left padding for
  decoders), or one prompt at a time through a `TextStreamer` that prints tokens as they are produced.

Prompts are encoded as the pretraining blocks were: a decoder sees `<s>` + the prompt's tokens (no closing
`</s>`, which would end the document), an encoder-decoder sees the tokenizer's usual `<s> prompt </s>`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TextStreamer,
    set_seed,
)

from .common.builder import max_positions
from .tokenization import ENCODING_ERRORS, check_tokenizer_fits, iter_text_files


@dataclass
class GenerationArguments:
    """Options of `transfuse generate` (flags, YAML or JSON via `HfArgumentParser`)."""

    model_name_or_path: str = field(
        metadata={"help": "Pretraining run folder, or any local/Hub causal or seq2seq LM checkpoint."}
    )
    prompt: list[str] | None = field(default=None, metadata={"help": "One or more prompts (quote each)."})
    prompt_file: str | None = field(
        default=None,
        metadata={"help": "UTF-8 text file with one prompt per non-blank line (instead of --prompt)."},
    )
    output_file: str | None = field(
        default=None,
        metadata={"help": "Also write JSON lines {prompt_index, prompt, sequence_index, generated_text} here."},
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer; defaults to the model's folder."})
    max_new_tokens: int = field(default=50, metadata={"help": "Tokens to generate after the prompt (at most)."})
    do_sample: bool = field(default=False, metadata={"help": "Sample instead of greedy / beam search."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling: <1 sharpens, >1 flattens the distribution."})
    top_k: int = field(default=50, metadata={"help": "Sampling: keep the k most likely tokens (0 keeps all)."})
    top_p: float = field(default=1.0, metadata={"help": "Sampling: keep the smallest set with this probability mass."})
    num_beams: int = field(default=1, metadata={"help": "Beam search with this many beams (1: no beam search)."})
    num_return_sequences: int = field(default=1, metadata={"help": "Sequences returned per prompt."})
    repetition_penalty: float = field(
        default=1.0,
        metadata={"help": "Divide the scores of tokens already present by this (>1 discourages repeats)."},
    )
    no_repeat_ngram_size: int = field(default=0, metadata={"help": "Forbid repeating n-grams of this size (0: off)."})
    stream: bool | None = field(
        default=None,
        metadata={
            "help": "Print tokens as they are produced (one prompt at a time). Default: on unless beam "
            "search or several sequences per prompt are asked for."
        },
    )
    batch_size: int = field(default=8, metadata={"help": "Prompts per `generate` call when not streaming."})
    seed: int = field(default=42, metadata={"help": "Seed for sampling."})
    bf16: bool = field(default=False, metadata={"help": "Load the weights in bfloat16 (faster on CPUs with bf16)."})
    encoding_errors: str = field(default="strict", metadata={"help": "For --prompt_file: 'strict' or 'replace'."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow code shipped with a Hub checkpoint."})

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.prompt_file is None):
            raise ValueError("Give the prompts with exactly one of --prompt and --prompt_file.")
        if self.encoding_errors not in ENCODING_ERRORS:
            raise ValueError(f"--encoding_errors {self.encoding_errors!r}: choose one of {ENCODING_ERRORS}.")
        for flag in ("max_new_tokens", "num_beams", "num_return_sequences", "batch_size"):
            if getattr(self, flag) < 1:
                raise ValueError(f"--{flag} must be at least 1, got {getattr(self, flag)}.")
        if self.temperature <= 0:
            raise ValueError(
                f"--temperature must be positive, got {self.temperature}; for deterministic output "
                "leave out --do_sample (greedy)."
            )
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"--top_p must lie in (0, 1], got {self.top_p}.")
        if self.top_k < 0 or self.no_repeat_ngram_size < 0:
            raise ValueError("--top_k and --no_repeat_ngram_size must not be negative.")
        if self.repetition_penalty <= 0:
            raise ValueError(f"--repetition_penalty must be positive (1.0 = off), got {self.repetition_penalty}.")
        if self.num_return_sequences > self.num_beams and not self.do_sample:
            raise ValueError(
                f"--num_return_sequences {self.num_return_sequences} needs --num_beams >= that or "
                "--do_sample: greedy search returns one sequence."
            )
        streamable = self.num_beams == 1 and self.num_return_sequences == 1
        if self.stream and not streamable:
            raise ValueError(
                "--stream prints one sequence as it is produced; it cannot be combined with "
                "--num_beams > 1 or --num_return_sequences > 1 (pass --stream false)."
            )
        if self.stream is None:
            self.stream = streamable

    def prompts(self) -> list[str]:
        """The prompts, from --prompt or from the non-blank lines of --prompt_file."""
        if self.prompt is not None:
            return list(self.prompt)
        return list(iter_text_files([self.prompt_file], self.encoding_errors))


def load_for_generation(
    model_name_or_path: str,
    tokenizer_name: str | None = None,
    trust_remote_code: bool = False,
    dtype: torch.dtype | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The generating head for the checkpoint's config, in eval mode, and a tokenizer whose ids fit it."""
    config = AutoConfig.from_pretrained(model_name_or_path, trust_remote_code=trust_remote_code)
    if getattr(config, "architecture", None) == "encoder":
        raise ValueError(
            f"{model_name_or_path!r} is an encoder (masked LM) checkpoint, which cannot generate text; "
            "pretrain with --architecture decoder or encoder-decoder."
        )
    auto_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    model = auto_class.from_pretrained(model_name_or_path, trust_remote_code=trust_remote_code, dtype=dtype).eval()
    tokenizer = AutoTokenizer.from_pretrained(
        tokenizer_name or model_name_or_path, trust_remote_code=trust_remote_code
    )
    check_tokenizer_fits(model, tokenizer, tokenizer_name or model_name_or_path)
    if not config.is_encoder_decoder:
        tokenizer.padding_side = "left"  # new tokens follow the prompt directly in every row
    return model, tokenizer


def build_generation_config(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, args: GenerationArguments
) -> GenerationConfig:
    """The model's own generation defaults, overridden by the decoding options of `args`."""
    config = GenerationConfig.from_dict(model.generation_config.to_dict())
    options = dict(
        max_new_tokens=args.max_new_tokens,
        num_beams=args.num_beams,
        do_sample=args.do_sample,
        num_return_sequences=args.num_return_sequences,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size,
        max_length=None,
    )
    if args.do_sample:
        options.update(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p)
    else:
        options.update(temperature=None, top_k=None, top_p=None)
    config.update(**options)
    if config.eos_token_id is None:
        config.eos_token_id = tokenizer.eos_token_id
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.eos_token_id
    return config


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str, is_encoder_decoder: bool) -> list[int]:
    """Token ids of a prompt as the model saw text in pretraining (see the module docstring)."""
    if is_encoder_decoder:
        return tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    return ids if bos is None or ids[:1] == [bos] else [bos, *ids]


def _check_length(model: PreTrainedModel, prompt_ids: Sequence[Sequence[int]], max_new_tokens: int) -> None:
    """Fail before generating when prompt + new tokens would run past the model's position table."""
    config = model.config
    limit = max_positions(config)
    if limit is None:
        return
    longest = max(len(ids) for ids in prompt_ids)
    needed = max(longest, max_new_tokens + 1) if config.is_encoder_decoder else longest + max_new_tokens
    if needed > limit:
        raise ValueError(
            f"the longest prompt ({longest} tokens) with --max_new_tokens {max_new_tokens} needs "
            f"{needed} positions but the model has {limit}; shorten the prompt or lower --max_new_tokens."
        )


def _completion(tokenizer: PreTrainedTokenizerBase, prompt_ids: list[int], new_ids: list[int]) -> str:
    """Decode the new tokens in the context of the prompt, so the space between the two is kept."""
    prompt_text = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    full_text = tokenizer.decode(prompt_ids + new_ids, skip_special_tokens=True)
    if full_text.startswith(prompt_text):
        return full_text[len(prompt_text) :]
    return tokenizer.decode(new_ids, skip_special_tokens=True)


@torch.inference_mode()
def generate_text(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    generation_config: GenerationConfig,
    stream: bool = False,
    batch_size: int = 8,
) -> list[list[str]]:
    """For each prompt, `num_return_sequences` generated texts (a decoder's continuation, without the prompt).

    With `stream=True`, each prompt runs alone and a `TextStreamer` prints prompt and tokens to stdout as they
    are produced (a decoder's prompt is printed, an encoder-decoder's is not).
    """
    is_seq2seq = model.config.is_encoder_decoder
    encoded = [encode_prompt(tokenizer, p, is_seq2seq) for p in prompts]
    _check_length(model, encoded, generation_config.max_new_tokens)
    n_return = generation_config.num_return_sequences or 1
    step = 1 if stream else batch_size
    outputs: list[list[str]] = []
    for start in range(0, len(encoded), step):
        chunk = encoded[start : start + step]
        batch = tokenizer.pad({"input_ids": chunk}, return_tensors="pt").to(model.device)
        streamer = TextStreamer(tokenizer, skip_special_tokens=True) if stream else None
        generated = model.generate(**batch, generation_config=generation_config, streamer=streamer)
        new_tokens = generated if is_seq2seq else generated[:, batch["input_ids"].shape[1] :]  # (B * n, new)
        for row, prompt_ids in enumerate(chunk):
            sequences = new_tokens[row * n_return : (row + 1) * n_return].tolist()
            if is_seq2seq:
                outputs.append([tokenizer.decode(s, skip_special_tokens=True).strip() for s in sequences])
            else:
                outputs.append([_completion(tokenizer, prompt_ids, s) for s in sequences])
    return outputs


def run_generation(args: GenerationArguments) -> list[list[str]]:
    """Load, generate (streaming or printing each result), optionally write JSON lines; return the texts."""
    prompts = args.prompts()
    model, tokenizer = load_for_generation(
        args.model_name_or_path,
        args.tokenizer_name,
        args.trust_remote_code,
        dtype=torch.bfloat16 if args.bf16 else None,
    )
    config = build_generation_config(model, tokenizer, args)
    set_seed(args.seed)
    texts = generate_text(model, tokenizer, prompts, config, stream=args.stream, batch_size=args.batch_size)
    if not args.stream:
        for prompt, sequences in zip(prompts, texts):
            for text in sequences:
                print(text if model.config.is_encoder_decoder else prompt + text, flush=True)
    if args.output_file:
        Path(args.output_file).parent.mkdir(parents=True, exist_ok=True)
        with open(args.output_file, "w", encoding="utf-8") as handle:
            for i, (prompt, sequences) in enumerate(zip(prompts, texts)):
                for j, text in enumerate(sequences):
                    record = {
                        "prompt_index": i,
                        "prompt": prompt,
                        "sequence_index": j,
                        "generated_text": text,
                    }
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return texts


__all__ = [
    "GenerationArguments",
    "build_generation_config",
    "encode_prompt",
    "generate_text",
    "load_for_generation",
    "run_generation",
]
