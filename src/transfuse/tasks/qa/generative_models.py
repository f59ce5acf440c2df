"""The models of generative QA: encoder-decoders and decoders behind one Auto class, and warm starts.

* `AutoModelForGenerativeQA` builds or loads `AutoModelForSeq2SeqLM` for an encoder-decoder config (a transfuse
  encoder-decoder, BART, T5, a `transformers.EncoderDecoderModel`) and `AutoModelForCausalLM` otherwise (a
  transfuse decoder, GPT-2, Llama), so the task works with both through the shared model loader.
* `warm_start_encoder_decoder` puts two pretrained encoders (e.g. MiniLM twice) together as an
  `EncoderDecoderModel` (Rothe et al. 2020, "Leveraging Pre-trained Checkpoints for Sequence Generation"): the
  decoder is the second checkpoint with causal self-attention and new cross-attention layers. transformers
  leaves the special ids to the user; here the decoder starts from `[CLS]` (bos), ends with `[SEP]` (eos) and
  pads with `[PAD]`, in the config and the generation config. The result is saved as an ordinary
  Hub-style folder (safetensors, config, generation config, tokenizer), which the task then fine-tunes like any
  `--model_name_or_path`, and whose run folders reload with `AutoModelForSeq2SeqLM`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    EncoderDecoderModel,
    PretrainedConfig,
    set_seed,
)

logger = logging.getLogger(__name__)

CACHE_ENV = "TRANSFUSE_CACHE"
WARM_START_MARKER = "transfuse_warm_start.txt"


class AutoModelForGenerativeQA:
    """`AutoModelForSeq2SeqLM` for encoder-decoder configs, `AutoModelForCausalLM` for the rest."""

    @staticmethod
    def auto_class(config: PretrainedConfig) -> Any:
        return AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any) -> Any:
        return cls.auto_class(config).from_config(config, **kwargs)

    @classmethod
    def from_pretrained(cls, path: str, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        if config is None:
            options = {key: kwargs[key] for key in ("revision", "trust_remote_code") if key in kwargs}
            config = AutoConfig.from_pretrained(path, **options)
        return cls.auto_class(config).from_pretrained(path, *args, **kwargs)


def warm_start_folder(encoder: str, decoder: str, overrides: dict[str, Any] | None = None) -> Path:
    """Where the warm start of `encoder` + `decoder` is kept: `$TRANSFUSE_CACHE` (default
    `~/.cache/transfuse`)/warm-start/<names>-<hash of the resolved paths>. It outlives the run, because an
    adapter trained on it names it as its base model."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "transfuse")
    key = "\n".join(str(Path(name).resolve()) if Path(name).exists() else name for name in (encoder, decoder))
    key += "\n" + json.dumps(overrides or {}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    names = "--".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).name)[:40] for name in (encoder, decoder))
    return root / "warm-start" / f"{names}-{digest}"


def warm_start_encoder_decoder(
    encoder: str, decoder: str, folder: str | Path, seed: int = 42, overrides: dict[str, Any] | None = None
) -> Path:
    """Save `EncoderDecoderModel(encoder, decoder)` with the encoder's tokenizer in `folder` (kept when it is
    already there); the new cross-attention depends on `seed`. `overrides` (`--config_overrides`, e.g.
    `attention_probs_dropout_prob=0.0`) go into the config of each half that has the field. Returns `folder`."""
    folder = Path(folder)
    if (folder / WARM_START_MARKER).is_file():
        logger.info("Reusing the warm-started encoder-decoder in %s", folder)
        return folder
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    decoder_config = AutoConfig.from_pretrained(decoder)
    if getattr(decoder_config, "vocab_size", len(tokenizer)) != len(tokenizer):
        raise ValueError(
            f"--decoder_from {decoder!r} has {decoder_config.vocab_size} token ids but the tokenizer of "
            f"--encoder_decoder_from {encoder!r} has {len(tokenizer)}; the two halves must share one vocabulary."
        )
    start = tokenizer.cls_token_id if tokenizer.bos_token_id is None else tokenizer.bos_token_id
    end = tokenizer.sep_token_id if tokenizer.eos_token_id is None else tokenizer.eos_token_id
    if start is None or end is None or tokenizer.pad_token_id is None:
        raise ValueError(
            f"--encoder_decoder_from {encoder!r}: its tokenizer needs a start (bos or cls), an end (eos or sep) and "
            "a pad token for the decoder; this one lacks one of them."
        )
    halves = {"encoder": AutoConfig.from_pretrained(encoder).to_dict(), "decoder": decoder_config.to_dict()}
    unknown = sorted(name for name in overrides or {} if not any(name in fields for fields in halves.values()))
    if unknown:
        raise ValueError(
            f"--config_overrides {', '.join(unknown)}: no such field in the configs of {encoder!r} / {decoder!r}."
        )
    kwargs = {
        f"{half}_{name}": value
        for half, fields in halves.items()
        for name, value in (overrides or {}).items()
        if name in fields
    }
    set_seed(seed)
    model = EncoderDecoderModel.from_encoder_decoder_pretrained(encoder, decoder, **kwargs)
    ids = {
        "decoder_start_token_id": start,
        "bos_token_id": start,
        "eos_token_id": end,
        "pad_token_id": tokenizer.pad_token_id,
    }
    for name, value in ids.items():
        setattr(model.config, name, value)
        setattr(model.generation_config, name, value)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".warm-start-", dir=folder.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / WARM_START_MARKER).write_text(f"encoder: {encoder}\ndecoder: {decoder}\nseed: {seed}\n")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "Warm-started an encoder-decoder from %s + %s (%.1fM parameters, cross-attention new) in %s",
        encoder,
        decoder,
        model.num_parameters() / 1e6,
        folder,
    )
    return folder


__all__ = ["CACHE_ENV", "AutoModelForGenerativeQA", "warm_start_encoder_decoder", "warm_start_folder"]
