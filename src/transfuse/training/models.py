"""Where a task's model and tokenizer come from.

For training (`load_for_training`), three sources:

(a) no `--model_name_or_path`: a transfuse `--preset` of the task's `--architecture` built from scratch by the
    builder shared with pretraining (`transfuse.common.builder`), with a tokenizer trained on the training texts
    (or `--tokenizer_name`); the config takes the tokenizer's size and special ids, the positions the task needs
    (`Task.max_positions`) and the task's labels;
(b) a saved transfuse checkpoint or run folder, and
(c) any local or Hub model whose config maps to the task's Auto class (a BERT for
    `AutoModelForSequenceClassification`), loaded with `from_pretrained(..., output_loading_info=True)`: the
    modules it reports as newly initialised are the task head, which an adapter (`--adapter lora`) trains in
    full and saves (`transfuse.adapters`).

The task's own tokens (`Task.added_tokens`, e.g. predicate markers) are added to the tokenizer of every source
as special tokens, and the embeddings grow to hold them before an adapter is applied; with an adapter, the
embedding matrix is then trained in full and saved with it (`modules_to_save`), so the run folder reloads.

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
from ..common import builder
from ..common.arguments import ModelArguments, parse_config_overrides
from ..tasks import Task
from ..tokenization import check_tokenizer_fits
from .model_source import check_model_source

logger = logging.getLogger(__name__)


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
    freeze_input_embeddings: bool = False,
) -> LoadedModel:
    """Build or load the model of `task` (labels from `task.config_updates()`), wrapped by its adapter; with
    `freeze_input_embeddings`, its word embeddings are not trained."""
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
    _add_task_tokens(task, loaded, adapter_args)
    if freeze_input_embeddings:
        _freeze_input_embeddings(task, loaded.model)
    loaded.model = apply_adapter(loaded.model, adapter_args, loaded.new_modules)
    return loaded


def _build_from_preset(task: Task, model_args: ModelArguments, training_texts: Iterable[str]) -> LoadedModel:
    positions = builder.preset_positions(model_args, task.max_positions())
    tokenizer = builder.load_or_train_tokenizer(model_args, training_texts, positions)
    builder.add_tokens(tokenizer, task.added_tokens())
    architecture = model_args.architecture or task.architectures[0]
    config = builder.scratch_config(
        model_args, tokenizer, positions, required=task.config_updates(), architecture=architecture
    )
    builder.check_positions(config, task.max_positions(), "--max_seq_length")
    model = task.auto_model_class.from_config(config)
    logger.info(
        "Built a %s transfuse %s from scratch: %.1fM parameters",
        builder.preset_name(model_args),
        architecture,
        model.num_parameters() / 1e6,
    )
    return LoadedModel(model=model, tokenizer=tokenizer)


def _add_task_tokens(task: Task, loaded: LoadedModel, adapter_args: AdapterArguments) -> None:
    """The task's tokens in a loaded tokenizer, with room for them in the embeddings; an adapter then trains
    and saves the whole embedding matrix (its new rows start random)."""
    if not builder.add_tokens(loaded.tokenizer, task.added_tokens()):
        return
    embeddings = loaded.model.get_input_embeddings()
    if len(loaded.tokenizer) > embeddings.num_embeddings:
        loaded.model.resize_token_embeddings(len(loaded.tokenizer))
        embeddings = loaded.model.get_input_embeddings()
    if adapter_args.enabled:
        name = next(name for name, module in loaded.model.named_modules() if module is embeddings)
        loaded.new_modules = sorted({*loaded.new_modules, name})
    logger.info("Added the task's tokens %s to the tokenizer (%d ids)", task.added_tokens(), len(loaded.tokenizer))


def _freeze_input_embeddings(task: Task, model: nn.Module) -> None:
    """No gradient for the word embeddings (position and token-type embeddings still train)."""
    if task.added_tokens():
        raise ValueError(
            f"--freeze_input_embeddings would leave the rows of the task's new tokens {task.added_tokens()} "
            "random; drop the flag, or choose an option that adds no tokens (e.g. SRL's --predicate_marking "
            "indicator)."
        )
    weight = model.get_input_embeddings().weight
    weight.requires_grad_(False)
    logger.info("Word embeddings frozen: %.1fM parameters not trained", weight.numel() / 1e6)


def _load_pretrained(task: Task, model_args: ModelArguments, adapter_args: AdapterArguments) -> LoadedModel:
    path = model_args.model_name_or_path
    require_local_or_reachable(path, model_args.model_revision)
    if model_args.tokenizer_name:
        check_model_source(model_args.tokenizer_name, "--tokenizer_name", weights=False)
    common = {"revision": model_args.model_revision, "trust_remote_code": model_args.trust_remote_code}
    config_kwargs = {**parse_config_overrides(model_args.config_overrides), **task.config_updates()}
    config = AutoConfig.from_pretrained(path, **common, **config_kwargs)
    config.update(config_kwargs)  # transformers 5 drops keys its config class does not know (a task's own)
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
    tokenizer = builder.load_or_train_tokenizer(model_args, (), task.max_positions())
    check_tokenizer_fits(model, tokenizer, model_args.tokenizer_name or path)
    return LoadedModel(model=model, tokenizer=tokenizer, base_model=path, new_modules=new_modules)


def load_for_evaluation(task: Task, model_args: ModelArguments) -> LoadedModel:
    """A trained model (full or adapter run folder, or any model with the task's head) and its tokenizer;
    `task.load_from_config` learns the labels from it."""
    path = model_args.model_name_or_path
    require_local_or_reachable(path, model_args.model_revision)
    if model_args.tokenizer_name:
        check_model_source(model_args.tokenizer_name, "--tokenizer_name", weights=False)
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
    check_tokenizer_fits(model, tokenizer, tokenizer_source)
    task.load_from_config(model.config)
    return LoadedModel(model=model, tokenizer=tokenizer, base_model=base_model)


def require_local_or_reachable(name_or_path: str, revision: str | None = None) -> None:
    """Fail at once, naming the path and the fix, when `--model_name_or_path` is a missing or damaged folder, or a
    Hub model that cannot be fetched (see `model_source`), instead of after a minute of download retries."""
    check_model_source(name_or_path, "--model_name_or_path", revision)


def _has_tokenizer(path: str) -> bool:
    return any((Path(path) / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"))


__all__ = ["LoadedModel", "load_for_evaluation", "load_for_training"]
