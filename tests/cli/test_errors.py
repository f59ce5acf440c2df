"""The one error boundary (`transfuse.cli.errors`): every command, fed a missing file, prints one line on stderr
and exits 2 without a traceback; Ctrl-C during training prints where the last checkpoint is and the command that
resumes from it (exit 130); `push` without a network and `merge` without its base print one line each."""

from __future__ import annotations

import json
import runpy
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from transfuse.cli import errors
from transfuse.cli.main import COMMANDS, main
from transfuse.data import demo_data_files

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "hub"))  # the run-folder builder of the Hub tests

# One invocation per command, each naming a file or folder that does not exist.
MISSING = {
    "train": ["train", "classification", "--train_file", "missing.csv", "--output_dir", "run"],
    "evaluate": [
        "evaluate",
        "classification",
        "--model_name_or_path",
        "MODEL_RUN",
        "--validation_file",
        "missing.csv",
    ],
    "predict": [
        "predict",
        "classification",
        "--model_name_or_path",
        "MODEL_RUN",
        "--test_file",
        "missing.csv",
        "--output_file",
        "out.jsonl",
    ],
    "pretrain": [
        "pretrain",
        "--architecture",
        "decoder",
        "--preset",
        "tiny",
        "--train_files",
        "missing.txt",
        "--output_dir",
        "run",
    ],
    "tokenizer": ["tokenizer", "train", "--train_files", "missing.txt", "--output_dir", "tok"],
    "generate": ["generate", "--model_name_or_path", "./missing_run", "--prompt", "hi"],
    "merge": ["merge", "./missing_run", "--output_dir", "merged"],
    "push": ["push", "./missing_run", "--repo_id", "me/tiny", "--dry_run"],
    "adapters": ["adapters", "check", "--model_name_or_path", "./missing_run", "--adapter", "lora"],
    "demo": ["demo", "--output_dir", "a_file/run"],  # the demo reads no file: its output folder is blocked
}
SCRIPTS = {
    "run_classification.py": ["train", "--train_file", "missing.csv", "--output_dir", "run"],
    "run_pretraining.py": MISSING["pretrain"][1:],
    "run_generation.py": MISSING["generate"][1:],
}


def _is_progress_bar(line: str) -> bool:
    return "%|" in line or line.rstrip().endswith(("it/s]", "examples/s]"))


def _one_error_line(capfd) -> str:
    """The one line on stderr besides progress bars (asserted: no other line, no traceback)."""
    captured = capfd.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip() and not _is_progress_bar(line)]
    assert "Traceback" not in captured.err and len(lines) == 1, captured.err
    return lines[0]


def test_every_command_is_covered():
    assert set(MISSING) == set(COMMANDS) - {"tasks"}  # `tasks` reads nothing


@pytest.fixture(scope="module")
def hub_runs(tmp_path_factory):
    """`{"model": a full-model run folder, "adapter": a LoRA run folder on it}`, built in seconds."""
    from hub_runs import build_hub_runs

    return build_hub_runs(tmp_path_factory.mktemp("runs"))


@pytest.mark.parametrize("command", sorted(MISSING))
def test_a_missing_file_is_one_line_and_exit_code_2(command, hub_runs, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    argv = [str(hub_runs["model"]) if word == "MODEL_RUN" else word for word in MISSING[command]]
    assert main(argv) == 2
    line = _one_error_line(capfd)
    assert line.startswith(f"transfuse {command}") and ": error: " in line, line
    assert "missing" in line or "a_file" in line, line  # it names what is missing


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_launch_scripts_share_the_boundary(script, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(REPO / "scripts" / script), *SCRIPTS[script]])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO / "scripts" / script), run_name="__main__")
    assert exit_info.value.code == 2
    assert ": error: " in _one_error_line(capfd)


def test_traceback_on_request_and_for_bugs(monkeypatch):
    def bad_input(argv):
        raise FileNotFoundError("x.csv: no such file")

    def bug(argv):
        raise TypeError("a bug, not the user's")

    assert errors.run_command("transfuse x", bad_input, []) == 2
    with pytest.raises(TypeError):  # a bug keeps its traceback
        errors.run_command("transfuse x", bug, [])
    monkeypatch.setenv(errors.TRACEBACK_ENV, "1")
    with pytest.raises(FileNotFoundError):
        errors.run_command("transfuse x", bad_input, [])


def test_messages_are_folded_to_one_line(capfd):
    def multi_line(argv):
        raise ValueError("first line\n  second line\n")

    assert errors.run_command("transfuse x", multi_line, []) == 2
    assert _one_error_line(capfd) == "transfuse x: error: first line second line"


def test_resume_command_replaces_resume_and_overwrite_flags():
    words = [
        "transfuse",
        "train",
        "classification",
        "--overwrite_output_dir",
        "--output_dir",
        "r",
        "--resume_from_checkpoint",
        "r/checkpoint-2",
        "--seed",
        "3",
        "--overwrite_output_dir=true",
    ]
    assert errors.resume_command(words) == [
        "transfuse",
        "train",
        "classification",
        "--output_dir",
        "r",
        "--seed",
        "3",
        "--resume_from_checkpoint",
        "auto",
    ]


def test_ctrl_c_during_training_names_the_checkpoint_and_the_resume_command(tmp_path, monkeypatch, capfd):
    """A KeyboardInterrupt raised in the third optimizer step, after checkpoint-2 was saved; the printed command
    then finishes the run."""
    from transformers import Trainer

    files = demo_data_files()
    out = tmp_path / "run"
    argv = [
        "train",
        "classification",
        "--train_file",
        files["train"],
        "--preset",
        "tiny",
        "--vocab_size",
        "300",
        "--max_seq_length",
        "32",
        "--max_train_samples",
        "64",
        "--per_device_train_batch_size",
        "8",
        "--max_steps",
        "4",
        "--save_steps",
        "2",
        "--disable_tqdm",
        "true",
        "--output_dir",
        str(out),
    ]
    original_step = Trainer.training_step

    def interrupted_step(self, *args, **kwargs):
        if self.state.global_step == 2:
            raise KeyboardInterrupt
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", interrupted_step)
    assert main(argv) == errors.EXIT_INTERRUPTED
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"last checkpoint: {out / 'checkpoint-2'}; resume with: transfuse train classification" in lines[0]
    resume = shlex.split(lines[0].split("resume with: ", 1)[1])
    assert resume[-2:] == ["--resume_from_checkpoint", "auto"]
    monkeypatch.setattr(Trainer, "training_step", original_step)
    assert main(resume[1:]) == 0
    assert json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4
    assert (out / "model.safetensors").is_file()


def test_push_without_a_network_is_one_line(hub_runs, monkeypatch, capfd):
    """The suite runs with HF_HUB_OFFLINE=1; a push then stops at once, in one line."""
    from transfuse import hub

    monkeypatch.setattr(hub, "get_token", lambda: "hf_not_a_real_token")
    assert main(["push", str(hub_runs["model"]), "--repo_id", "me/tiny"]) == 2
    line = _one_error_line(capfd)
    assert line.startswith("transfuse push: error: ") and "offline" in line.lower(), line


def test_push_with_an_unreachable_hub_is_one_line(hub_runs, monkeypatch, capfd):
    from huggingface_hub import constants

    from transfuse import hub

    monkeypatch.setattr(hub, "get_token", lambda: "hf_not_a_real_token")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    assert main(["push", str(hub_runs["model"]), "--repo_id", "me/tiny"]) == 2
    assert _one_error_line(capfd).startswith("transfuse push: error: ")


def test_merge_with_its_base_gone_names_the_path_and_the_flag(hub_runs, tmp_path, capfd):
    run = tmp_path / "adapter-run"
    shutil.copytree(hub_runs["adapter"], run)
    config_file = run / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = str(tmp_path / "moved-away" / "base")
    config_file.write_text(json.dumps(config))
    assert main(["merge", str(run), "--output_dir", str(tmp_path / "merged")]) == 2
    line = _one_error_line(capfd)
    assert str(tmp_path / "moved-away" / "base") in line and "--base_model_name_or_path" in line, line
    assert (
        main(
            [
                "merge",
                str(run),
                "--output_dir",
                str(tmp_path / "merged"),
                "--base_model_name_or_path",
                str(hub_runs["model"]),
            ]
        )
        == 0
    )
    assert (tmp_path / "merged" / "model.safetensors").is_file()
