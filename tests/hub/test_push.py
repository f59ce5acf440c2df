"""`transfuse push` in pieces: arguments, what gets staged, the card, secrets, and the HfApi calls (mocked)."""

from __future__ import annotations

import json
import shutil

import pytest
from hub_runs import TOKEN

from transfuse import hub
from transfuse.cli.main import main
from transfuse.cli.push import main as push_main
from transfuse.cli.push import parse_push_arguments
from transfuse.hub import PushArguments, StagedRun, push_run, redact_secrets, stage_run, usage_snippet


class RecordingApi:
    """Stands in for `HfApi`: records calls, and what `upload_folder` was given to send."""

    calls: list[tuple[str, dict]] = []
    existing_public = False

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        from huggingface_hub import RepoUrl

        return RepoUrl(f"https://hub.example/{repo_id}", endpoint="https://hub.example")

    def model_info(self, repo_id):
        return type("Info", (), {"private": not self.existing_public})()

    def create_branch(self, repo_id, **kwargs):
        self.calls.append(("create_branch", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs):
        files = sorted(p.relative_to(kwargs["folder_path"]).as_posix() for p in kwargs["folder_path"].rglob("*"))
        self.calls.append(("upload_folder", {**kwargs, "files": files}))
        return type("Commit", (), {"commit_url": f"https://hub.example/{kwargs['repo_id']}/commit/abc"})()


@pytest.fixture
def api(monkeypatch):
    RecordingApi.calls, RecordingApi.existing_public = [], False
    monkeypatch.setattr(hub, "HfApi", RecordingApi)
    return RecordingApi


def test_arguments_take_the_run_folder_first(hub_runs):
    args = parse_push_arguments([str(hub_runs["model"]), "--repo_id", "me/tiny", "--private", "--revision", "v2"])
    assert (args.run_dir, args.repo_id, args.private, args.revision) == (str(hub_runs["model"]), "me/tiny", True, "v2")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"repo_id": "me/bad name"}, ValueError, "--repo_id 'me/bad name' is not a Hub repo id"),
        ({"run_dir": "/nonexistent/run"}, FileNotFoundError, "run folder '/nonexistent/run' does not exist"),
        ({"adapter_only": True}, ValueError, "--adapter_only: .* holds a full model"),
        ({"base_model_repo_id": "me/base"}, ValueError, "--base_model_repo_id only applies with --adapter_only"),
    ],
)
def test_bad_arguments_name_the_flag(hub_runs, kwargs, error, message):
    with pytest.raises(error, match=message):
        PushArguments(**{"run_dir": str(hub_runs["model"]), "repo_id": "me/tiny", **kwargs})


def test_full_model_stages_weights_code_tokenizer_and_a_hub_card(hub_runs, tmp_path):
    staged = stage_run(PushArguments(run_dir=str(hub_runs["model"]), repo_id="me/tiny", revision="v2"), tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {
        "README.md",
        "config.json",
        "model.safetensors",
        "configuration_transfuse.py",
        "modeling_transfuse.py",
        "tokenizer.json",
        "tokenizer_config.json",
        "metrics.json",
    }
    assert staged.kind == "model" and staged.base_model is None
    card = (tmp_path / "README.md").read_text()
    assert (
        "AutoModelForSequenceClassification.from_pretrained('me/tiny', revision='v2', trust_remote_code=True)" in card
    )
    assert "name: tiny" in card and "custom_code" in card and "trained from scratch" in card
    assert str(hub_runs["model"]) not in card.split("## How to use it")[1]  # no local path in the loading code
    assert "name: validation.jsonl" in card.split("---")[1]  # model-index names the data file, not its path


def test_missing_code_files_are_taken_from_the_package(hub_runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(hub_runs["model"], run)
    (run / "modeling_transfuse.py").unlink()
    stage_run(PushArguments(run_dir=str(run), repo_id="me/tiny"), tmp_path / "up")
    assert "class TransfuseForSequenceClassification" in (tmp_path / "up" / "modeling_transfuse.py").read_text()


def test_pickled_weights_are_refused(hub_runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(hub_runs["model"], run)
    (run / "model.safetensors").rename(run / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="pickled weights .*pytorch_model.bin.*safe_serialization"):
        stage_run(PushArguments(run_dir=str(run), repo_id="me/tiny"), tmp_path / "up")


def test_adapter_on_a_local_base_needs_the_base_repo(hub_runs, tmp_path):
    with pytest.raises(ValueError, match="local folder .* --base_model_repo_id"):
        stage_run(PushArguments(run_dir=str(hub_runs["adapter"]), repo_id="me/lora", adapter_only=True), tmp_path)


def test_push_calls_the_hub_in_order(hub_runs, api):
    url = push_run(
        PushArguments(run_dir=str(hub_runs["model"]), repo_id="me/tiny", private=True, revision="v2"), token=TOKEN
    )
    assert url == "https://hub.example/me/tiny/commit/abc"
    names = [name for name, _ in api.calls]
    assert names == ["create_repo", "create_branch", "upload_folder"]
    assert api.calls[0][1] == {"repo_id": "me/tiny", "private": True, "exist_ok": True}
    assert api.calls[1][1] == {"repo_id": "me/tiny", "branch": "v2", "exist_ok": True}
    upload = api.calls[2][1]
    assert upload["revision"] == "v2" and "model.safetensors" in upload["files"]
    assert "training_args.bin" not in upload["files"] and not any("checkpoint" in f for f in upload["files"])


def test_private_push_never_lands_in_an_existing_public_repo(hub_runs, api):
    api.existing_public = True
    with pytest.raises(RuntimeError, match="already exists and is public; nothing was pushed"):
        push_run(PushArguments(run_dir=str(hub_runs["model"]), repo_id="me/tiny", private=True), token=TOKEN)
    assert "upload_folder" not in [name for name, _ in api.calls]


def test_no_token_stops_before_the_network(hub_runs, api, monkeypatch):
    monkeypatch.setattr(hub, "get_token", lambda: None)
    with pytest.raises(RuntimeError, match="hf auth login"):
        push_run(PushArguments(run_dir=str(hub_runs["model"]), repo_id="me/tiny"))
    assert api.calls == []


def test_token_inside_a_binary_file_stops_the_push(hub_runs, api, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(hub_runs["model"], run)
    (run / "loss_curve.png").write_bytes(b"\x89PNG..." + TOKEN.encode() + b"...")
    with pytest.raises(RuntimeError, match="loss_curve.png contains your Hub token; nothing was pushed"):
        push_run(PushArguments(run_dir=str(run), repo_id="me/tiny"), token=TOKEN)
    assert api.calls == []


def test_redaction():
    command = f"train --hub_token {TOKEN} --push_to_hub --other=1 --hub-token=abc hf_abcdefghijklmnopqrstuvwxyz"
    redacted = redact_secrets(command, secrets=("s3cr3t-value",))
    assert redacted == "train --hub_token *** --push_to_hub --other=1 --hub-token=*** hf_***"
    assert redact_secrets("key s3cr3t-value", secrets=("s3cr3t-value",)) == "key ***"
    assert redact_secrets("--token abc --api_key=k1 --db-password p") == "--token *** --api_key=*** --db-password ***"
    # flags that only contain "token" keep their values: the recorded command must reproduce the run
    kept = "--tokenizer_name gpt2 --max_tokens_per_batch 4096 --include_num_input_tokens_seen true"
    assert redact_secrets(kept) == kept


def test_dry_run_lists_files_without_a_token(hub_runs, api, monkeypatch, capsys):
    monkeypatch.setattr(hub, "get_token", lambda: None)
    assert push_main([str(hub_runs["model"]), "--repo_id", "me/tiny", "--dry_run"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert "model.safetensors" in listed and "README.md" in listed and api.calls == []


def test_cli_reports_errors_without_a_traceback(capsys):
    assert main(["push", "/nonexistent/run", "--repo_id", "me/tiny"]) == 2
    assert "transfuse push: error: run folder '/nonexistent/run' does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "architecture, auto_class",
    [
        ("BertForSequenceClassification", "AutoModelForSequenceClassification"),
        ("BartForConditionalGeneration", "AutoModelForSeq2SeqLM"),  # also in the masked-LM mapping
        ("GPT2LMHeadModel", "AutoModelForCausalLM"),
        ("BertModel", "AutoModel"),
    ],
)
def test_loading_code_for_models_without_remote_code(tmp_path, architecture, auto_class):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "bert"}))
    snippet = usage_snippet(StagedRun(tmp_path, "model", None), "me/bert", None)
    assert f"model = {auto_class}.from_pretrained('me/bert')\n" in snippet  # no trust_remote_code needed
