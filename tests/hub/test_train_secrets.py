"""A Hub token given to `transfuse train` (as `--hub_token` and in `HF_TOKEN`) reaches no file of the run folder
(README.md, metrics.json, the pickled training_args.bin, checkpoints) and no line of output, while the push at the
end of the run (to a local fake Hub) still uses it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fake_hub import FakeHub

from transfuse.data import demo_data_files

FLAG_TOKEN = "hf_FlagTokenPlantedForTheLeakTest0123456789"
ENV_TOKEN = "hf_EnvTokenPlantedForTheLeakTest9876543210"

TRAIN = """
import sys
from transfuse.cli.main import main
sys.exit(main({argv!r}))
"""


def test_hub_token_never_reaches_the_run_folder_nor_the_output(tmp_path):
    out = tmp_path / "run"
    argv = [
        "train",
        "classification",
        "--train_file",
        demo_data_files()["train"],
        "--preset",
        "tiny",
        "--vocab_size",
        "300",
        "--max_seq_length",
        "16",
        "--max_steps",
        "2",
        "--max_train_samples",
        "32",
        "--per_device_train_batch_size",
        "8",
        "--save_strategy",
        "steps",
        "--save_steps",
        "1",
        "--logging_steps",
        "1",
        "--output_dir",
        str(out),
        "--cache_dir",
        str(tmp_path / "cache"),
        "--push_to_hub",
        "true",
        "--hub_model_id",
        "tester/secret-run",
        "--hub_token",
        FLAG_TOKEN,
    ]
    with FakeHub(token=FLAG_TOKEN) as hub:
        env = {
            **os.environ,
            "HF_ENDPOINT": hub.endpoint,
            "HF_TOKEN": ENV_TOKEN,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_OFFLINE": "0",
            "TRANSFORMERS_OFFLINE": "0",
            "HF_HOME": str(tmp_path / "hf"),
            "TRANSFUSE_TRACEBACK": "1",
        }
        run = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(TRAIN.format(argv=argv))],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        uploaded = hub.uploaded_files()
    assert "model.safetensors" in " ".join(uploaded)  # the push happened, with the flag's token
    files = [path for path in out.rglob("*") if path.is_file()]
    assert {"README.md", "metrics.json", "training_args.bin"} <= {path.name for path in files}
    assert any("checkpoint-2" in str(path) for path in files)
    for token in (FLAG_TOKEN, ENV_TOKEN):
        leaks = [str(path.relative_to(out)) for path in files if token.encode() in path.read_bytes()]
        assert not leaks, f"{token[:12]}... found in {leaks}"
        assert token not in run.stdout and token not in run.stderr
        assert not [name for name, content in uploaded.items() if token.encode() in content]
    assert "--hub_token ***" in (out / "metrics.json").read_text()  # the command is kept, the value masked
    assert Path(out / "README.md").read_text().count("--hub_token ***") == 1
