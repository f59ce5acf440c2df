"""Is `--model_name_or_path` something that can be loaded? Answered in milliseconds, before anything is read.

`from_pretrained` treats any name it cannot find on disk as a Hub id: a mistyped local path then ends, after a
minute of download retries, in "Repo id must be in the form ..." or "We couldn't connect to huggingface.co",
neither naming the path; an empty folder gives "Unrecognized model", a truncated `model.safetensors` a
`SafetensorError` traceback. `check_model_source` tells these apart up front:

* a name that looks like a path (absolute, `./`, `../`, `~`, more than one `/`, or not a valid repo id) must
  be a folder on disk: otherwise "no such folder", with the path it resolved to;
* a folder must hold a `config.json` (or an adapter's `adapter_config.json`), and every `*.safetensors` in it
  must open (its header parses and the file is as long as the header says);
* a Hub id is looked up in the local cache when offline mode is on, and otherwise the Hub endpoint is probed
  (3 s) so that an unreachable Hub fails at once with the way out.
"""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from safetensors import SafetensorError, safe_open

from ..data.loading import hub_unreachable_reason

LOCAL_PREFIXES = ("/", "./", "../", "~", ".\\", "..\\")
MAX_LISTED = 6


def looks_local(name: str) -> bool:
    """Whether `name` can only mean a path on disk (a Hub id is `name` or `namespace/name`)."""
    if name.startswith(LOCAL_PREFIXES) or Path(name).is_absolute() or name.count("/") > 1:
        return True
    if os.sep != "/" and os.sep in name:  # Windows paths
        return True
    try:
        validate_repo_id(name)
    except HFValidationError:
        return True
    return False


def offline_mode() -> bool:
    flags = (os.environ.get(var, "") for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any(flag.upper() in ("1", "ON", "YES", "TRUE") for flag in flags)


def check_model_source(
    name_or_path: str, flag: str = "--model_name_or_path", revision: str | None = None, weights: bool = True
) -> None:
    """Raise `FileNotFoundError` / `OSError` naming `flag`, the path and the fix when `name_or_path` cannot be
    loaded; `weights=False` for a tokenizer (no config or weights to check)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if weights:
            check_model_folder(path, flag, name_or_path)
        return
    if path.exists():
        raise NotADirectoryError(
            f"{flag} {name_or_path!r} is a file; name the folder that holds it (with its config.json)."
        )
    if looks_local(name_or_path):
        raise FileNotFoundError(
            f"{flag} {name_or_path!r}: no such folder (resolved to {path.resolve()}). Pass the --output_dir of a "
            "finished `transfuse train`, or a folder written by save_pretrained."
        )
    if offline_mode():
        if not isinstance(try_to_load_from_cache(name_or_path, "config.json", revision=revision), str) and weights:
            raise OSError(
                f"{flag} {name_or_path!r} is neither a local folder (resolved to {path.resolve()}) nor a Hub model "
                "in the local cache, and offline mode is on (HF_HUB_OFFLINE=1). Check the path, or download the "
                "model once with network access."
            )
        return
    unreachable = hub_unreachable_reason()
    if unreachable:
        raise OSError(
            f"{flag} {name_or_path!r} is not a local folder (resolved to {path.resolve()}) and the Hugging Face "
            f"Hub is unreachable ({unreachable}). Pass a local model folder, or, if the model is in your local "
            "cache, set HF_HUB_OFFLINE=1 to load it from there."
        )


def check_model_folder(folder: Path, flag: str, given: str) -> None:
    """A loadable model folder: a config, and weights that open."""
    names = sorted(child.name for child in folder.iterdir())
    if "config.json" not in names and "adapter_config.json" not in names:
        checkpoints = [name for name in names if name.startswith("checkpoint-")]
        if not names:
            held = "the folder is empty"
        elif checkpoints:
            held = (
                f"it holds checkpoints of an unfinished run: pass one of them, e.g. {folder / checkpoints[-1]}, "
                "or finish the run with --resume_from_checkpoint auto"
            )
        else:
            held = "it holds " + ", ".join(names[:MAX_LISTED]) + (" ..." if len(names) > MAX_LISTED else "")
        raise FileNotFoundError(
            f"{flag} {given!r} holds no config.json ({held}); name a folder written by `transfuse train` or "
            "save_pretrained."
        )
    for name in names:
        if name.endswith(".safetensors"):
            check_safetensors(folder / name)


def check_safetensors(path: Path) -> None:
    """Open the file's header (memory-mapped: no weights are read); raise `OSError` when it is damaged."""
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError) as err:
        raise OSError(
            f"{path} is damaged ({err}): it was cut short or overwritten; copy it again, or train the run again."
        ) from err


__all__ = ["check_model_folder", "check_model_source", "check_safetensors", "looks_local", "offline_mode"]
