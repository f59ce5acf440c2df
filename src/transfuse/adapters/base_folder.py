"""The `base/` folder of an adapter run: what lets `transformers` and `peft` load the run on their own.

`pipeline(task, model=RUN)`, `AutoModelFor*.from_pretrained(RUN)` and `peft.AutoPeftModelFor*.from_pretrained(RUN)`
all follow `base_model_name_or_path` in `adapter_config.json`, build the model from the config *found there*, then
put the adapter on it; a `config.json` next to the adapter makes transformers take the run folder for a complete
model and look for its weights. So an adapter run keeps the task model's config (label names, head size, problem
type) in `RUN/base/config.json`, beside symbolic links to the base's own safetensors files (no copy: the base is
read where it lies) and the tokenizer, and `adapter_config.json` names that folder by its absolute path. The base
the adapter was trained on (an absolute local path, or a Hub id as given) is recorded in `transfuse_adapter.json`.

    RUN/adapter_config.json          base_model_name_or_path: /abs/RUN/base
    RUN/adapter_model.safetensors    adapter weights + trained heads (modules_to_save)
    RUN/transfuse_adapter.json       {"base_model_name_or_path": "/abs/models/bert" | "org/model", ...}
    RUN/base/config.json             the task model's config (id2label, num_labels, problem_type)
    RUN/base/model.safetensors  ->   /abs/models/bert/model.safetensors
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from transformers import AutoTokenizer, PretrainedConfig

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
RUN_ADAPTER_INFO = "transfuse_adapter.json"
BASE_FOLDER = "base"
BASE_FLAG = "--base_model_name_or_path"
SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
TOKENIZER_MARKERS = ("tokenizer.json", "tokenizer_config.json", "vocab.txt")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def is_local_path(name: str) -> bool:
    """A folder on this disk (existing or not) rather than a Hub id: absolute, `./`-relative, or deeper than
    `org/name`."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def portable_base_name(name: str) -> str:
    """An existing local folder as an absolute path (loads from any working directory); a Hub id unchanged."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def recorded_base(run_dir: str | Path) -> str | None:
    """The base an adapter run was trained on, as recorded by transfuse (else as peft wrote it)."""
    run_dir = Path(run_dir)
    recorded = _read_json(run_dir / RUN_ADAPTER_INFO).get("base_model_name_or_path")
    return recorded or _read_json(run_dir / ADAPTER_CONFIG).get("base_model_name_or_path")


def original_base(loaded_from: str) -> str:
    """The base behind the path a model was loaded from: a run's `base/` folder stands for the base it links to."""
    folder = Path(loaded_from)
    if folder.name == BASE_FOLDER and (folder.parent / RUN_ADAPTER_INFO).is_file():
        return recorded_base(folder.parent) or portable_base_name(loaded_from)
    return portable_base_name(loaded_from)


def base_weight_files(base: str) -> list[Path]:
    """The safetensors weight files of `base` (a local folder, or a Hub id in the local cache), links resolved."""
    folder = Path(base).expanduser()
    if folder.is_dir():

        def find(name: str) -> Path | None:
            return folder / name if (folder / name).is_file() else None
    else:
        from huggingface_hub import try_to_load_from_cache

        def find(name: str) -> Path | None:
            cached = try_to_load_from_cache(base, name)
            return Path(cached) if isinstance(cached, str) else None

    single = find(SINGLE_FILE)
    if single is not None:
        return [single.resolve()]
    index = find(INDEX_FILE)
    if index is None:
        return []
    shards = [find(name) for name in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
    return [index.resolve(), *(shard.resolve() for shard in shards)] if all(shards) else []


def write_base_folder(run_dir: str | Path, loaded_from: str, task_config: PretrainedConfig) -> bool:
    """Write `RUN/base/` (task config, links to the base weights, tokenizer) and point `adapter_config.json` at it.

    Returns False (and the run loads only through `transfuse.adapters.load_for_inference`) when the base has no
    safetensors weights to link to, e.g. a Hub model not in the local cache or one saved as pickles.
    """
    run_dir = Path(run_dir)
    weights = base_weight_files(loaded_from)
    if not weights:
        logger.warning(
            "%s has no safetensors weights on this disk to link to, so %s loads with "
            "transfuse.adapters.load_for_inference only (not with transformers.pipeline / AutoPeftModel).",
            loaded_from,
            run_dir,
        )
        return False
    folder = run_dir / BASE_FOLDER
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.is_dir():
        shutil.rmtree(folder)
    task_config.save_pretrained(folder)
    for weight in weights:
        (folder / weight.name).symlink_to(weight)
    tokenizer_source = next((s for s in (run_dir, Path(loaded_from)) if _has_tokenizer(s)), None)
    if tokenizer_source is not None:
        AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(folder)
    set_adapter_base(run_dir, str(folder.resolve()))
    return True


def set_adapter_base(run_dir: Path, base: str) -> None:
    """Rewrite `base_model_name_or_path` in the run's `adapter_config.json` (what transformers and peft follow)."""
    adapter_config = _read_json(run_dir / ADAPTER_CONFIG)
    adapter_config["base_model_name_or_path"] = base
    (run_dir / ADAPTER_CONFIG).write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TOKENIZER_MARKERS)


def resolve_base(run_dir: str | Path, override: str | None = None) -> str:
    """Where to load an adapter run's base from: `override`, else the run's own `base/` folder, else the recorded
    base (a relative local path is tried against the run folder, then the working directory).

    Raises FileNotFoundError naming the path looked for and the flag that overrides it.
    """
    run_dir = Path(run_dir)
    if override:
        if is_local_path(override) and not Path(override).expanduser().is_dir():
            raise FileNotFoundError(f"{BASE_FLAG} {override!r}: no such model folder.")
        return override
    recorded = recorded_base(run_dir)
    folder = run_dir / BASE_FOLDER
    if (folder / "config.json").is_file():
        gone = [link for link in sorted(folder.iterdir()) if link.is_symlink() and not link.exists()]
        if gone:
            raise FileNotFoundError(
                f"{run_dir}: the base model's weights {os.readlink(gone[0])} (linked from {gone[0]}) are gone; "
                f"restore the base {recorded!r} or pass {BASE_FLAG} PATH naming a copy of it."
            )
        return str(folder)
    if not recorded:
        raise ValueError(
            f"{run_dir / ADAPTER_CONFIG} names no base model (`base_model_name_or_path`); pass {BASE_FLAG} PATH."
        )
    if not is_local_path(recorded):
        return recorded  # a Hub id
    candidates = [Path(recorded).expanduser()]
    if not candidates[0].is_absolute():
        candidates.insert(0, run_dir / recorded)
    for candidate in candidates:
        if candidate.is_dir():
            return str(candidate)
    looked = " or ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"{run_dir}: the base model {recorded!r} was not found (looked for {looked}); pass {BASE_FLAG} PATH "
        "naming the model the adapter was trained on."
    )


def task_config_source(run_dir: str | Path) -> Path | None:
    """The folder holding the task model's config: `RUN/base/`, or `RUN/` in runs written before `base/`."""
    run_dir = Path(run_dir)
    for folder in (run_dir / BASE_FOLDER, run_dir):
        if (folder / "config.json").is_file():
            return folder
    return None


__all__ = [
    "BASE_FLAG",
    "BASE_FOLDER",
    "RUN_ADAPTER_INFO",
    "base_weight_files",
    "is_local_path",
    "original_base",
    "portable_base_name",
    "recorded_base",
    "resolve_base",
    "set_adapter_base",
    "task_config_source",
    "write_base_folder",
]
