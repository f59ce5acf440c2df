"""The vocabularies of a translation model: one tokenizer for both languages, or one per side.

By default a `--preset` model gets one tokenizer trained on both languages and one embedding table, shared by the
encoder, the decoder and the output layer. `--separate_vocabularies` trains one tokenizer on the source sentences
and one on the target sentences, as Marian's models have them: the encoder embeds the source vocabulary and the
decoder embeds the target vocabulary in a table of its own, tied to the output layer
(`TransfuseConfig.decoder_vocab_size`, like `MarianConfig.decoder_vocab_size` with
`share_encoder_decoder_embeddings=False`). Each language then gets the whole vocabulary budget.

Where the tokenizers live: the run folder holds the source tokenizer at its root (what `AutoTokenizer` and
`transformers.pipeline` load, and what the encoder reads). The target tokenizer sits in the subfolder named by the
model config's `translation` settings (`"target_tokenizer": "target_tokenizer"`). Both come from
`train_tokenizer`, so their special tokens have the same ids (pad 0, bos 2, eos 3), which the model config holds
once; `check_target_tokenizer` refuses a pair where they differ.

Generated ids are read back with the target tokenizer. `target_tokenizer(tokenizer, config)` finds it (for a
shared vocabulary it is the source tokenizer itself) and `decode_targets` turns ids into text. The task's
`decode`, the attention plot's row labels and the pipeline all go through these two functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from transformers import AutoTokenizer, PreTrainedTokenizerBase, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ...data.collators import LABEL_PAD_ID
from ...tokenization import train_tokenizer
from .generation import CONFIG_KEY, settings_of

TARGET_TOKENIZER_DIR = "target_tokenizer"  # the subfolder of a run folder holding the target tokenizer
SETTINGS_KEY = "target_tokenizer"  # the key of the config's `translation` settings that names that subfolder
SPECIAL_IDS = ("pad_token_id", "bos_token_id", "eos_token_id")


def train_target_tokenizer(
    texts: Iterable[str], kind: str, vocab_size: int, model_max_length: int
) -> PreTrainedTokenizerBase:
    """The target side's tokenizer, trained on the target sentences as the source one is on the sources."""
    return train_tokenizer(texts, kind=kind, vocab_size=vocab_size, model_max_length=model_max_length)


def _target_folders(subfolder: str, *roots: str | None) -> list[Path]:
    return [Path(root) / subfolder for root in dict.fromkeys(filter(None, roots))]


def _holds_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer_config.json").is_file() or (folder / "tokenizer.json").is_file()


def target_tokenizer(tokenizer: PreTrainedTokenizerBase, config: Any) -> PreTrainedTokenizerBase:
    """The tokenizer of the target side of a model: `tokenizer` itself when the config names no target tokenizer
    (one shared vocabulary, or a Hub model whose tokenizer handles both sides), else the one in the named subfolder
    next to `tokenizer` or, failing that, next to the model."""
    subfolder = settings_of(config).get(SETTINGS_KEY)
    if not subfolder:
        return tokenizer
    folders = _target_folders(subfolder, tokenizer.name_or_path, getattr(config, "_name_or_path", None))
    for folder in folders:
        if _holds_tokenizer(folder):
            return AutoTokenizer.from_pretrained(folder)
    places = " or ".join(str(folder) for folder in folders) or f"a {subfolder}/ folder"
    raise FileNotFoundError(
        f"The model writes a target vocabulary of its own (config `translation.{SETTINGS_KEY}` = {subfolder!r}), "
        f"but there is no tokenizer in {places}; copy the run folder's {subfolder}/ folder along with the model."
    )


def run_target_tokenizer_folder(model_name_or_path: str) -> Path | None:
    """The target tokenizer folder of a local run trained with separate vocabularies (None for any other model),
    so that training continued from that run reads its targets with the same tokenizer."""
    config_file = Path(model_name_or_path) / "config.json"
    if not config_file.is_file():
        return None
    settings = json.loads(config_file.read_text(encoding="utf-8")).get(CONFIG_KEY) or {}
    if not settings.get(SETTINGS_KEY):
        return None
    folder = Path(model_name_or_path) / settings[SETTINGS_KEY]
    if not _holds_tokenizer(folder):
        raise FileNotFoundError(
            f"--model_name_or_path {model_name_or_path!r} was trained with separate vocabularies, but its target "
            f"tokenizer folder {folder} holds no tokenizer; copy it back from the original run folder."
        )
    return folder


def check_target_tokenizer(source: PreTrainedTokenizerBase, target: PreTrainedTokenizerBase, config: Any) -> None:
    """Refuse a target tokenizer that numbers the special tokens otherwise than the source one (the model config
    holds one pad / bos / eos id for both sides) or that has more ids than the decoder has embedding rows."""
    if target is source:
        return
    for name in SPECIAL_IDS:
        if getattr(source, name) != getattr(target, name):
            raise ValueError(
                f"The source and target tokenizers give {name[:-3]} different ids ({getattr(source, name)} vs "
                f"{getattr(target, name)}); train both with transfuse (--separate_vocabularies) so they agree."
            )
    rows = getattr(config, "decoder_vocab_size", None) or config.vocab_size
    if len(target) > rows:
        raise ValueError(
            f"The target tokenizer has {len(target)} tokens but the decoder only {rows} embeddings "
            "(decoder_vocab_size): it does not belong to this model."
        )


def decode_targets(tokenizer: PreTrainedTokenizerBase, ids: Any) -> list[str]:
    """Generated ids (N, T), padded with -100 by the evaluation loop, -> N texts (special tokens dropped, stripped),
    read with the target tokenizer."""
    ids = np.asarray(ids[0] if isinstance(ids, tuple) else ids)
    ids = np.where(ids == LABEL_PAD_ID, tokenizer.pad_token_id or 0, ids)
    return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]


class SaveTargetTokenizer(TrainerCallback):
    """Writes the target tokenizer into every checkpoint folder and, when training ends, into the output folder,
    next to the source tokenizer the Trainer saves there itself (its `processing_class`)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer

    def _save(self, folder: Path, state: Any) -> None:
        if state.is_world_process_zero:
            self.tokenizer.save_pretrained(folder / TARGET_TOKENIZER_DIR)

    def on_save(self, args, state, control, **kwargs):
        self._save(Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}", state)

    def on_train_end(self, args, state, control, **kwargs):
        self._save(Path(args.output_dir), state)


__all__ = [
    "SETTINGS_KEY",
    "TARGET_TOKENIZER_DIR",
    "SaveTargetTokenizer",
    "check_target_tokenizer",
    "decode_targets",
    "run_target_tokenizer_folder",
    "target_tokenizer",
    "train_target_tokenizer",
]
