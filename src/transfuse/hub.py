"""Sharing a run on the Hugging Face Hub: `push_run` (the `transfuse push` command) and `load_from_hub`.

A run folder holds more than a model (checkpoints, pickled `training_args.bin`, a card written for a local
path), so a push first *stages* what others need into a clean folder, then sends it with
`HfApi.create_repo` + `upload_folder` in one commit:

* the weights, as safetensors only (pickled `.bin` weights are refused, never converted silently);
* for a transfuse model, the modeling code that `trust_remote_code=True` runs: `configuration_transfuse.py`,
  `modeling_transfuse.py` and every module named in the config's `auto_map` (all heads), taken from the run
  folder or, when missing, from the installed package;
* the tokenizer, `metrics.json` and `loss_curve.png`;
* the model card, rewritten for the Hub: `model-index` metrics under the repo's name, `base_model` and
  `base_model_relation` (the lineage: fine-tune, adapter, or adapter merged into its base), the command that
  trained it, and a "How to use it" section with the exact loading code for this repo id and revision.

An adapter run is pushed merged into its base by default (a standalone model anyone loads with transformers),
or as the adapter alone with `--adapter_only` (loaded with peft's `AutoPeftModel*`, which fetches the base
named in `adapter_config.json`; a base that only exists on this disk must be pushed first and named with
`--base_model_repo_id`).

The token comes from `HF_TOKEN` or `hf auth login` (there is deliberately no `--token` flag: it would land in
shell history and process lists; `transfuse train --hub_token` exists because `TrainingArguments` has it). It never
reaches a log, a card or a run folder: `take_over_push_to_hub` blanks `--hub_token` before the Trainer pickles its
arguments, the run folder's metrics.json and README.md mask every known token (`known_secrets`) and `--*token*`
value, and the push stops if the token itself appears in any staged file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, ModelCard, ModelCardData, get_token, snapshot_download

from .modeling.heads import HEADS

logger = logging.getLogger(__name__)

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "chat_template.jinja",
    "chat_template.json",
)
RUN_FILES = ("metrics.json", "loss_curve.png")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "config.json", "transfuse_adapter.json")
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json")
PICKLED_WEIGHTS = ("pytorch_model.bin", "adapter_model.bin", "pytorch_model.bin.index.json")
TRANSFUSE_CODE = ("configuration_transfuse.py", "modeling_transfuse.py")
TEXT_SUFFIXES = (".md", ".json", ".txt", ".yaml", ".yml", ".py", ".jinja")
REPO_ID = re.compile(r"^(?:[\w\-.]{1,96}/)?[\w\-.]{1,96}$")


@dataclass
class PushArguments:
    """Options of `transfuse push RUN_DIR --repo_id NAME`."""

    run_dir: str = field(metadata={"help": "Run folder written by `transfuse train` (a full model or an adapter)."})
    repo_id: str = field(metadata={"help": "Hub model repo, `namespace/name` (or `name` in your own namespace)."})
    private: bool = field(
        default=False, metadata={"help": "Create the repo private (an existing repo is checked, never made public)."}
    )
    adapter_only: bool = field(
        default=False,
        metadata={
            "help": "For an adapter run: push the adapter alone (small; loaded with peft, which fetches the "
            "base). Default: merge it into its base and push a standalone model."
        },
    )
    revision: str | None = field(
        default=None, metadata={"help": "Branch to push to (created from main if missing). Default: main."}
    )
    base_model_repo_id: str | None = field(
        default=None,
        metadata={
            "help": "With --adapter_only: the Hub repo of the base model, written into the uploaded "
            "adapter_config.json (needed when the adapter was trained on a local folder)."
        },
    )
    commit_message: str | None = field(default=None, metadata={"help": "Commit message (default: names the run)."})
    dry_run: bool = field(
        default=False, metadata={"help": "Stage the files and list them, without contacting the Hub."}
    )

    def __post_init__(self) -> None:
        for flag, value in (("repo_id", self.repo_id), ("base_model_repo_id", self.base_model_repo_id)):
            if value is not None and not REPO_ID.match(value):
                raise ValueError(
                    f"--{flag} {value!r} is not a Hub repo id; use `namespace/name` (letters, digits, '-', '_', '.')."
                )
        if not Path(self.run_dir).is_dir():
            raise FileNotFoundError(
                f"run folder {self.run_dir!r} does not exist; pass the --output_dir of a finished `transfuse train`."
            )
        is_adapter = (Path(self.run_dir) / "adapter_config.json").is_file()
        if self.adapter_only and not is_adapter:
            raise ValueError(
                f"--adapter_only: {self.run_dir} holds a full model, not an adapter "
                "(no adapter_config.json); drop the flag."
            )
        if self.base_model_repo_id and not self.adapter_only:
            raise ValueError("--base_model_repo_id only applies with --adapter_only (a merged model needs no base).")


# ---------------------------------------------------------------------------------------------------------
# secrets
# ---------------------------------------------------------------------------------------------------------

# a flag whose name ends in token / secret / password / api_key (--hub_token, --hub-token, --token), not one that
# only contains "token" (--tokenizer_name, --max_tokens_per_batch): their values are what reproduces a run
_TOKEN_FLAG = re.compile(r"(--(?:[\w-]*[_-])?(?:token|secret|password|api[_-]key))(=|\s+)(\S+)", re.IGNORECASE)
_HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")


_REGISTERED: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a token this process was given (e.g. `--hub_token`), so that every file a run writes masks it."""
    if value:
        _REGISTERED.add(value)


def known_secrets() -> tuple[str, ...]:
    """Every token this process knows: registered ones, `HF_TOKEN` and the logged-in token."""
    return tuple(sorted(_REGISTERED | {value for value in (os.environ.get("HF_TOKEN"), get_token()) if value}))


def redact_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask the values of `--*token*` flags, strings shaped like Hub tokens, and each of `secrets`."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    text = _TOKEN_FLAG.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    return _HF_TOKEN.sub("hf_***", text)


def _contains(path: Path, needle: bytes, chunk_size: int = 1 << 20) -> bool:
    """Whether the file holds `needle`, read in chunks (weights can be gigabytes)."""
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            if needle in tail + chunk:
                return True
            tail = chunk[-(len(needle) - 1) :] if len(needle) > 1 else b""
    return False


def _scrub_folder(folder: Path, token: str | None) -> None:
    """Redact text files in place, then refuse to upload if the token survives anywhere (binary files too)."""
    secrets = (token,) if token else ()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            redacted = redact_secrets(text, secrets)
            if redacted != text:
                path.unlink()  # may be a hard link into the run folder: never edit the original
                path.write_text(redacted, encoding="utf-8", errors="surrogateescape")
        if token and _contains(path, token.encode()):
            raise RuntimeError(
                f"{path.name} contains your Hub token; nothing was pushed. Remove it from the run "
                "folder and push again."
            )


# ---------------------------------------------------------------------------------------------------------
# staging
# ---------------------------------------------------------------------------------------------------------


def _place(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)  # weights can be large: no copy when on the same filesystem
    except OSError:
        shutil.copy2(source, destination)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _copy_existing(run_dir: Path, staging: Path, names: tuple[str, ...]) -> None:
    for name in names:
        if (run_dir / name).is_file():
            _place(run_dir / name, staging / name)


def _copy_tokenizer_folders(run_dir: Path, staging: Path) -> None:
    """A task's own tokenizers in subfolders of the run (translation's `target_tokenizer/`), unless staged
    already (a merged adapter's folder has them)."""
    from .common.folder import extra_tokenizer_folders  # common.folder imports this module's redaction

    for folder in extra_tokenizer_folders(run_dir):
        if not (staging / folder.name).exists():
            _copy_existing(folder, staging / folder.name, tuple(file.name for file in folder.iterdir()))


def _add_remote_code(staging: Path) -> None:
    """Ship every module the config's `auto_map` names, so each head loads with `trust_remote_code=True`."""
    config = _read_json(staging / "config.json")
    modules = {
        reference.split(".")[0] + ".py"
        for reference in (config.get("auto_map") or {}).values()
        if isinstance(reference, str)
    }
    if config.get("model_type") == "transfuse":
        from . import modeling

        modules |= set(TRANSFUSE_CODE)
        for name in TRANSFUSE_CODE:
            if not (staging / name).is_file():
                _place(Path(modeling.__file__).parent / name, staging / name)
    missing = sorted(name for name in modules if not (staging / name).is_file())
    if missing:
        raise FileNotFoundError(
            f"config.json's auto_map names {', '.join(missing)}, which the run folder lacks; "
            "re-save the model with save_pretrained so its code is copied next to it."
        )


def _stage_full_model(run_dir: Path, staging: Path) -> None:
    shards = sorted(run_dir.glob("model-*-of-*.safetensors"))
    if not (run_dir / "model.safetensors").is_file() and not shards:
        pickled = [name for name in PICKLED_WEIGHTS if (run_dir / name).is_file()]
        hint = (
            f" It holds pickled weights ({', '.join(pickled)}): load and re-save them with "
            "`save_pretrained(..., safe_serialization=True)` first."
            if pickled
            else ""
        )
        raise FileNotFoundError(f"{run_dir} has no model.safetensors.{hint}")
    _copy_existing(run_dir, staging, MODEL_FILES)
    for shard in shards:
        _place(shard, staging / shard.name)
    for code in run_dir.glob("*.py"):
        _place(code, staging / code.name)


def _stage_merged_adapter(run_dir: Path, staging: Path) -> None:
    """The adapter folded into its base (dequantized first for QLoRA) by `transfuse merge`'s own code, with its
    report of the largest logit change (`merge_report.json`)."""
    from .adapters.merge import merge_run

    try:
        merge_run(run_dir, staging)
    except ValueError as error:  # e.g. prompt learning (prefix, prompt): nothing to fold into the weights
        raise ValueError(
            f"the adapter in {run_dir} cannot be merged into its base ({error}); push it with --adapter_only."
        ) from error


def _stage_adapter(run_dir: Path, staging: Path, base_model_repo_id: str | None) -> str:
    if not (run_dir / "adapter_model.safetensors").is_file():
        raise FileNotFoundError(f"{run_dir} has no adapter_model.safetensors (pickled adapters are not pushed).")
    from .adapters.base_folder import recorded_base, task_config_source

    _copy_existing(run_dir, staging, ADAPTER_FILES)
    task_config = task_config_source(run_dir)  # `RUN/base/` (label names, head size); on the Hub, next to the adapter
    if task_config is not None and not (staging / "config.json").is_file():
        _place(task_config / "config.json", staging / "config.json")
    adapter_config = _read_json(run_dir / "adapter_config.json")
    base = base_model_repo_id or recorded_base(run_dir) or ""
    if _is_local(base):
        raise ValueError(
            f"the adapter's base model is the local folder {base!r}, which nobody else can load. Push "
            "the base first (`transfuse push BASE_DIR --repo_id NAME`) and pass "
            "--base_model_repo_id NAME."
        )
    if base != adapter_config.get("base_model_name_or_path"):  # never the run's local `base/` folder
        adapter_config["base_model_name_or_path"] = base
        (staging / "adapter_config.json").unlink()
        (staging / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    return base


def _is_local(name: str | None) -> bool:
    return bool(name) and (Path(name).exists() or name.startswith(("/", "./", "../", "~")))


@dataclass
class StagedRun:
    """What `stage_run` put in the upload folder and how it relates to other models (for the card)."""

    folder: Path
    kind: str  # "model", "merged-adapter" or "adapter"
    base_model: str | None
    peft_task_type: str | None = None


def stage_run(args: PushArguments, staging: str | Path) -> StagedRun:
    """Fill `staging` with exactly the files to upload for `args.run_dir` (see the module docstring)."""
    run_dir, staging = Path(args.run_dir), Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    card = _load_card(run_dir)
    adapter_config = _read_json(run_dir / "adapter_config.json")
    if adapter_config and args.adapter_only:
        base = _stage_adapter(run_dir, staging, args.base_model_repo_id)
        staged = StagedRun(staging, "adapter", base, adapter_config.get("task_type"))
    elif adapter_config:
        from .adapters.base_folder import recorded_base

        _stage_merged_adapter(run_dir, staging)
        card = _load_card(staging) or card  # the training card plus the merge's drift report
        staged = StagedRun(staging, "merged-adapter", recorded_base(run_dir))
    else:
        _stage_full_model(run_dir, staging)
        staged = StagedRun(staging, "model", card.data.base_model if card else None)
    _add_remote_code(staging)
    _copy_existing(run_dir, staging, TOKENIZER_FILES + RUN_FILES)
    _copy_tokenizer_folders(run_dir, staging)
    write_hub_card(staged, card, args, _read_json(run_dir / "metrics.json"))
    return staged


# ---------------------------------------------------------------------------------------------------------
# the model card
# ---------------------------------------------------------------------------------------------------------


def _load_card(run_dir: Path) -> ModelCard | None:
    path = run_dir / "README.md"
    return ModelCard.load(path, ignore_metadata_errors=True) if path.is_file() else None


def _without_section(body: str, title: str) -> str:
    """`body` minus its `## {title}` section (up to the next `## ` heading)."""
    return re.sub(rf"(?ms)^## {re.escape(title)}\s*$.*?(?=^## |\Z)", "", body).rstrip() + "\n"


def _auto_class(staging: Path) -> str:
    """The Auto class that loads the staged model: from the `auto_map` (remote code), else the first head of the
    heads table whose transformers mapping names the checkpoint's class (the backbone's `AutoModel` last)."""
    config = _read_json(staging / "config.json")
    architecture = (config.get("architectures") or [""])[0]
    for auto_name, reference in (config.get("auto_map") or {}).items():
        if reference.endswith("." + architecture) and auto_name != "AutoConfig":
            return auto_name
    for head in HEADS:
        # `_model_mapping` is the lazy model-type -> class-name table the Auto class loads from
        if architecture in head.auto_class._model_mapping._model_mapping.values():
            return head.auto_name
    return "AutoModel"


def peft_auto_class(peft_task_type: str | None) -> str:
    """peft's `AutoPeftModelFor*` class for an adapter of `peft_task_type` (the one whose Auto class is the
    head's), else the generic `AutoPeftModel`."""
    import peft.auto

    auto_class = next((head.auto_class for head in HEADS if head.peft_task_type == peft_task_type), None)
    for name in dir(peft.auto):
        if name.startswith("AutoPeftModel") and getattr(getattr(peft.auto, name), "_target_class", None) is auto_class:
            return name
    return "AutoPeftModel"


def usage_snippet(staged: StagedRun, repo_id: str, revision: str | None) -> str:
    """Python that loads the pushed repo with transformers/peft alone (transfuse not needed)."""
    remote = _read_json(staged.folder / "config.json").get("model_type") == "transfuse"
    extra = f", revision={revision!r}" if revision and revision != "main" else ""
    trust = ", trust_remote_code=True" if remote else ""
    if staged.kind == "adapter":
        peft_class = peft_auto_class(staged.peft_task_type)
        labelled = "id2label" in _read_json(staged.folder / "config.json") and staged.peft_task_type in (
            "SEQ_CLS",
            "TOKEN_CLS",
        )
        # the base's own config may have another label set (e.g. a pretrained encoder): take the task's
        config = (
            f"config = AutoConfig.from_pretrained({repo_id!r}{extra}{trust})  # the task's labels\n"
            if labelled
            else ""
        )
        labels = (
            ",\n    num_labels=config.num_labels, id2label=config.id2label, label2id=config.label2id"
            if labelled
            else ""
        )
        return (
            f"from peft import {peft_class}\nfrom transformers import AutoConfig, AutoTokenizer\n\n{config}"
            f"# fetches the base model {staged.base_model!r}, then puts the adapter on it\n"
            f"model = {peft_class}.from_pretrained(\n    {repo_id!r}{extra}{trust}{labels})\n"
            f"tokenizer = AutoTokenizer.from_pretrained({repo_id!r}{extra})\n"
        )
    auto_class = _auto_class(staged.folder)
    return (
        f"from transformers import {auto_class}, AutoTokenizer\n\n"
        f"model = {auto_class}.from_pretrained({repo_id!r}{extra}{trust})\n"
        f"tokenizer = AutoTokenizer.from_pretrained({repo_id!r}{extra})\n"
    )


def write_hub_card(staged: StagedRun, card: ModelCard | None, args: PushArguments, metrics: dict[str, Any]) -> Path:
    """The run's card, made for the Hub: repo name in `model-index`, lineage, loading code for the repo."""
    data = card.data if card is not None else ModelCardData()
    body = card.text if card is not None else f"# {args.repo_id}\n"
    if card is None and metrics.get("command"):
        body += f"\n## How it was made\n\n```bash\n{metrics['command']}\n```\n"
    data.model_name = args.repo_id.split("/")[-1]
    for result in data.eval_results or []:  # a local data file is named by its file name, not its path here
        for attribute in ("dataset_name", "dataset_type"):
            value = getattr(result, attribute, None)
            if value and ("/" in value or os.sep in value) and _is_local(value):
                setattr(result, attribute, Path(value).name)
    remote = _read_json(staged.folder / "config.json").get("model_type") == "transfuse"
    data.tags = sorted(set(data.tags or []) | {"transfuse"} | ({"custom_code"} if remote else set()))
    data.library_name = "peft" if staged.kind == "adapter" else "transformers"
    base = staged.base_model if staged.base_model and not _is_local(staged.base_model) else None
    data.base_model = base
    relation = {"adapter": "adapter", "merged-adapter": "merge", "model": "finetune"}[staged.kind]
    if base:
        data.base_model_relation = relation
    lineage = {
        "model": f"fine-tuned from `{base}`" if base else "trained from scratch with transfuse",
        "merged-adapter": f"an adapter trained on `{staged.base_model}`, merged into its weights: a standalone model",
        "adapter": f"an adapter for `{base}`; loading it fetches that base",
    }[staged.kind]
    for title in ("Lineage", "How to use it"):
        body = _without_section(body, title)
    body += (
        f"\n## Lineage\n\n{lineage}.\n\n## How to use it\n\n```python\n"
        f"{usage_snippet(staged, args.repo_id, args.revision)}```\n"
    )
    path = staged.folder / "README.md"
    ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body.lstrip()}").save(path)
    return path


# ---------------------------------------------------------------------------------------------------------
# push and load
# ---------------------------------------------------------------------------------------------------------


def push_run(args: PushArguments, token: str | None = None) -> str:
    """Stage `args.run_dir` and upload it to `args.repo_id` in one commit; returns the commit URL.

    With `dry_run`, returns the staged file list instead (one `path  size` line each) and contacts nobody.
    """
    token = token or get_token()
    if token is None and not args.dry_run:
        raise RuntimeError(
            "No Hub token: log in with `hf auth login` or set the HF_TOKEN environment variable "
            "(a token with write access), then run transfuse push again."
        )
    with tempfile.TemporaryDirectory(prefix="transfuse-push-") as tmp:
        staged = stage_run(args, Path(tmp) / "upload")
        _scrub_folder(staged.folder, token)
        files = sorted(p.relative_to(staged.folder).as_posix() for p in staged.folder.rglob("*") if p.is_file())
        if args.dry_run:
            return "\n".join(f"{name}  {(staged.folder / name).stat().st_size}" for name in files)
        api = HfApi(token=token)
        url = api.create_repo(args.repo_id, private=args.private, exist_ok=True)
        repo_id = url.repo_id or args.repo_id
        if args.private and not api.model_info(repo_id).private:
            raise RuntimeError(
                f"--private: {repo_id} already exists and is public; nothing was pushed. Make it "
                "private on the Hub first, or push to a new repo."
            )
        if args.revision and args.revision != "main":
            api.create_branch(repo_id, branch=args.revision, exist_ok=True)
        logger.info("uploading %d files of %s (%s) to %s", len(files), args.run_dir, staged.kind, repo_id)
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=staged.folder,
            revision=args.revision,
            commit_message=args.commit_message or f"Upload {staged.kind} from transfuse run {Path(args.run_dir).name}",
        )
    return commit.commit_url


@dataclass
class PushRequest:
    """A push to run once the run folder is complete (what `--push_to_hub` asks of `transfuse train`)."""

    repo_id: str
    private: bool = False
    revision: str | None = None
    token: str | None = field(default=None, repr=False)

    def push(self, run_dir: str | Path) -> str:
        args = PushArguments(run_dir=str(run_dir), repo_id=self.repo_id, private=self.private, revision=self.revision)
        return push_run(args, token=self.token)


def take_over_push_to_hub(training_args: Any) -> PushRequest | None:
    """Turn `TrainingArguments.push_to_hub` into a `PushRequest` for the end of the run, and switch the Trainer's
    own pushing off: it would create the repo at start-up, upload every checkpoint with the pickled
    `training_args.bin`, and replace our card with its own. Raises before training when no token is available.

    Always (with or without pushing) `--hub_token` is taken out of the arguments, which the Trainer pickles into
    `training_args.bin`, and registered so that the run's text files mask it (`known_secrets`).
    """
    token = training_args.hub_token
    register_secret(token)
    training_args.hub_token = None  # the Trainer pickles its arguments into training_args.bin and every checkpoint
    if not training_args.push_to_hub:
        return None
    token = token or get_token()
    if token is None:
        raise ValueError(
            "--push_to_hub needs a Hub token with write access: log in with `hf auth login` or set "
            "HF_TOKEN (or drop --push_to_hub and run `transfuse push` later)."
        )
    training_args.push_to_hub = False
    repo_id = training_args.hub_model_id or Path(training_args.output_dir).resolve().name
    return PushRequest(
        repo_id=repo_id, private=bool(training_args.hub_private_repo), revision=training_args.hub_revision, token=token
    )


def load_from_hub(repo_id: str, revision: str | None = None, **kwargs: Any):
    """Load a pushed transfuse run by repo id: a full model, or an adapter on the base its config names.

    `kwargs` go to the model's `from_pretrained` (e.g. `torch_dtype`). Returns the model in eval mode.
    """
    from .adapters import load_for_inference

    return load_for_inference(snapshot_download(repo_id, revision=revision), **kwargs)


__all__ = [
    "PushArguments",
    "PushRequest",
    "StagedRun",
    "known_secrets",
    "load_from_hub",
    "push_run",
    "redact_secrets",
    "register_secret",
    "stage_run",
    "take_over_push_to_hub",
    "usage_snippet",
    "write_hub_card",
]
