"""Where a task's model and tokenizer come from.

For training (`load_for_training`), three sources:

(a) no `--model_name_or_path`: a transfuse `--preset` built from scratch, with a tokenizer trained on the
    training texts (or `--tokenizer_name`); the config takes the tokenizer's size and special ids and the
    task's labels;
(b) a saved transfuse checkpoint or run folder, and
(c) any local or Hub model whose config maps to the task's Auto class (a BERT for
    `AutoModelForSequenceClassification`), loaded with `from_pretrained(..., output_loading_info=True)`: the
    modules it reports as newly initialised are the task head, which an adapter (`--adapter lora`) trains in
    full and saves (`transfuse.adapters`).

For evaluation and prediction (`load_for_evaluation`), a run folder holding a full model or an adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn
from transformers import AutoConfig, AutoTokenizer, PreTrainedTokenizerBase, set_seed

from ..adapters import (
    AdapterArguments,
    apply_adapter,
    is_adapter_folder,
    load_for_inference,
    new_module_names,
    quantization_kwargs,
)
from ..data.loading import hub_unreachable_reason
from ..modeling import get_preset
from ..modeling.presets import PRESETS
from ..tasks import Task
from ..tokenization import train_tokenizer
from .arguments import ModelArguments, parse_config_overrides

logger = logging.getLogger(__name__)

DEFAULT_PRESET = "small"


@dataclass
class LoadedModel:
    """A model ready for the Trainer, its tokenizer, and where it came from (for the model card)."""

    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    base_model: str | None = None  # the pretrained model it starts from; None when built from scratch
    new_modules: list[str] = field(default_factory=list)


def load_for_training(
    task: Task,
    model_args: ModelArguments,
    adapter_args: AdapterArguments,
    training_texts: Iterable[str],
    seed: int = 42,
) -> LoadedModel:
    """Build or load the model of `task` (labels from `task.config_updates()`), wrapped by its adapter."""
    set_seed(seed)  # the new weights (a scratch model, a new head) depend on it
    if model_args.from_scratch:
        loaded = _build_from_preset(task, model_args, training_texts)
    else:
        if is_adapter_folder(model_args.model_name_or_path):
            raise ValueError(
                f"--model_name_or_path {model_args.model_name_or_path!r} holds an adapter, not a full model; "
                "train from its base model (see base_model_name_or_path in its adapter_config.json), or "
                "merge it first with `transfuse merge`."
            )
        loaded = _load_pretrained(task, model_args, adapter_args)
    loaded.model = apply_adapter(loaded.model, adapter_args, loaded.new_modules)
    return loaded


def _build_from_preset(task: Task, model_args: ModelArguments, training_texts: Iterable[str]) -> LoadedModel:
    preset = model_args.preset or DEFAULT_PRESET
    max_positions = max(task.max_seq_length, PRESETS[preset]["max_position_embeddings"])
    if model_args.tokenizer_name:
        tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name)
    else:
        # the `tiny` preset's 128 ids cannot hold byte-level BPE's 256-byte alphabet: never train below 512
        vocab_size = model_args.vocab_size or max(PRESETS[preset]["vocab_size"], 512)
        logger.info(
            "Training a %s tokenizer (vocab %d) on the training texts", model_args.tokenizer_kind, vocab_size
        )
        tokenizer = train_tokenizer(
            training_texts,
            kind=model_args.tokenizer_kind,
            vocab_size=vocab_size,
            model_max_length=max_positions,
        )
    fields = {
        "vocab_size": len(tokenizer),
        "max_position_embeddings": max_positions,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id
        if tokenizer.bos_token_id is not None
        else tokenizer.cls_token_id,
        "eos_token_id": tokenizer.eos_token_id
        if tokenizer.eos_token_id is not None
        else tokenizer.sep_token_id,
    }
    fields.update(parse_config_overrides(model_args.config_overrides))
    fields.update(task.config_updates())
    config = get_preset(preset, model_args.architecture, **fields)
    model = task.auto_model_class.from_config(config)
    logger.info(
        "Built a %s transfuse %s from scratch: %.1fM parameters",
        preset,
        model_args.architecture,
        model.num_parameters() / 1e6,
    )
    return LoadedModel(model=model, tokenizer=tokenizer)


def _load_pretrained(task: Task, model_args: ModelArguments, adapter_args: AdapterArguments) -> LoadedModel:
    path = model_args.model_name_or_path
    require_local_or_reachable(path)
    common = {"revision": model_args.model_revision, "trust_remote_code": model_args.trust_remote_code}
    config_kwargs = {**parse_config_overrides(model_args.config_overrides), **task.config_updates()}
    config = AutoConfig.from_pretrained(path, **common, **config_kwargs)
    try:
        model, loading_info = task.auto_model_class.from_pretrained(
            path,
            config=config,
            output_loading_info=True,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
            **common,
            **quantization_kwargs(adapter_args, task.auto_model_class, config),
        )
    except RuntimeError as err:
        if "size mismatch" not in str(err):
            raise
        raise ValueError(
            f"{path}: {err}\nThe checkpoint's head has another shape (e.g. another number of labels); "
            "pass --ignore_mismatched_sizes to re-initialise it."
        ) from err
    new_modules = new_module_names(loading_info, model)
    if new_modules:
        logger.info("Newly initialised modules (trained in full): %s", ", ".join(new_modules))
    tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name or path, **common)
    return LoadedModel(model=model, tokenizer=tokenizer, base_model=path, new_modules=new_modules)


def load_for_evaluation(task: Task, model_args: ModelArguments) -> LoadedModel:
    """A trained model (full or adapter run folder, or any model with the task's head) and its tokenizer;
    `task.load_from_config` learns the labels from it."""
    path = model_args.model_name_or_path
    require_local_or_reachable(path)
    common = {"revision": model_args.model_revision, "trust_remote_code": model_args.trust_remote_code}
    if model_args.base_model_name_or_path and not is_adapter_folder(path):
        raise ValueError(
            f"--base_model_name_or_path applies to adapter runs, but {path!r} holds a full model; drop the flag."
        )
    if is_adapter_folder(path):
        model = load_for_inference(path, base_model_name_or_path=model_args.base_model_name_or_path)
        base_model = model.peft_config[model.active_adapter].base_model_name_or_path
    else:
        model = task.auto_model_class.from_pretrained(path, **common).eval()
        base_model = path
    tokenizer_source = model_args.tokenizer_name or path
    if not model_args.tokenizer_name and is_adapter_folder(path) and not _has_tokenizer(path):
        tokenizer_source = base_model
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, **common)
    task.load_from_config(model.config)
    return LoadedModel(model=model, tokenizer=tokenizer, base_model=base_model)


def require_local_or_reachable(name_or_path: str) -> None:
    """Fail in seconds, with the way out, when a Hub model is named but the Hub cannot be reached (instead of
    after a minute of download retries)."""
    if Path(name_or_path).exists():
        return
    unreachable = hub_unreachable_reason()
    if unreachable:
        raise OSError(
            f"--model_name_or_path {name_or_path!r} is not a local folder and the Hugging Face Hub is unreachable "
            f"({unreachable}). Pass a local model folder, or, if the model is in your local cache, set "
            "HF_HUB_OFFLINE=1 to load it from there."
        )


def _has_tokenizer(path: str) -> bool:
    return any(
        (Path(path) / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")
    )


__all__ = ["DEFAULT_PRESET", "LoadedModel", "load_for_evaluation", "load_for_training"]
