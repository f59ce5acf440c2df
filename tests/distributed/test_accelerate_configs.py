"""Every shipped accelerate config parses with accelerate's own loader and resolves to the launch it promises.

Each file goes through what `accelerate launch --config_file FILE` does before starting anything: the config
loader (`load_config_from_file`, which rejects unknown top-level keys), the launch parser, and
`_validate_launch_command` (config merged into the arguments). From there we check the launcher accelerate picks
and the environment it would hand the processes, and, for FSDP, that the auto-wrap policy built from that
environment wraps exactly `TransfuseLayer` (read from `_no_split_modules`). No GPU is needed for any of this.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from accelerate.commands.config import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

from transfuse.distributed import world_size_from_accelerate_launch

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "accelerate"
# name -> (processes, launcher accelerate picks, distributed_type)
EXPECTED = {
    "cpu.yaml": (1, "simple", "NO"),
    "multi_cpu.yaml": (2, "torchrun", "MULTI_GPU"),
    "single_gpu.yaml": (1, "simple", "NO"),
    "multi_gpu.yaml": (2, "torchrun", "MULTI_GPU"),
    "fsdp.yaml": (2, "torchrun+fsdp", "FSDP"),
    "deepspeed_zero2.yaml": (2, "deepspeed", "DEEPSPEED"),
    "deepspeed_zero3.yaml": (2, "deepspeed", "DEEPSPEED"),
    "multi_node.yaml": (16, "torchrun", "MULTI_GPU"),
}


def _resolve(name: str):
    args = launch_command_parser().parse_args(["--config_file", str(CONFIG_DIR / name), "train.py"])
    return _validate_launch_command(args)


def _launcher(args) -> str:
    if args.use_deepspeed:
        return "deepspeed"
    if args.use_fsdp:
        return "torchrun+fsdp"
    return "torchrun" if args.multi_gpu and not args.cpu else "simple"


def test_the_shipped_set_is_complete():
    assert sorted(p.name for p in CONFIG_DIR.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_parses_and_resolves_to_its_launcher(name):
    processes, launcher, distributed_type = EXPECTED[name]
    config = load_config_from_file(str(CONFIG_DIR / name))
    assert config.distributed_type.value == distributed_type
    assert config.num_processes == processes
    args, _, _ = _resolve(name)
    assert _launcher(args) == launcher
    assert args.num_processes == processes
    # the world-size check reads the same number back from the launch command line
    request = world_size_from_accelerate_launch(
        ["accelerate", "launch", "--config_file", str(CONFIG_DIR / name), "train.py"]
    )
    assert request is not None and request.world_size == processes


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_header_names_the_launch_command(name):
    text = (CONFIG_DIR / name).read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert text.startswith("#"), f"{name} must start with a comment"
    assert f"accelerate launch --config_file configs/accelerate/{name}" in header
    assert "scripts/run_classification.py" in header


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nested_keys_are_launch_options(name):
    """accelerate copies `fsdp_config`/`deepspeed_config` keys onto its launch arguments without checking them;
    a misspelt key would be silently ignored, so check each one names a real launch option."""
    config = load_config_from_file(str(CONFIG_DIR / name))
    options = {action.dest for action in launch_command_parser()._actions}
    for key in config.fsdp_config:
        assert (key if key.startswith("fsdp") else f"fsdp_{key}") in options, key
    for key in config.deepspeed_config:
        assert key in options, key


def test_fsdp_wraps_each_transfuse_layer(monkeypatch):
    from accelerate.utils import FullyShardedDataParallelPlugin

    import transfuse

    args, _, _ = _resolve("fsdp.yaml")
    env = prepare_multi_gpu_env(args)
    assert env["FSDP_AUTO_WRAP_POLICY"] == "TRANSFORMER_BASED_WRAP"
    assert "FSDP_TRANSFORMER_CLS_TO_WRAP" not in env  # taken from the model's `_no_split_modules`
    assert env["FSDP_STATE_DICT_TYPE"] == "FULL_STATE_DICT"
    for key, value in env.items():
        if key.startswith(("FSDP_", "ACCELERATE_")):
            monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    model = transfuse.TransfuseForSequenceClassification(transfuse.get_preset("tiny", "encoder"))
    plugin.set_auto_wrap_policy(model)
    assert plugin.auto_wrap_policy.keywords["transformer_layer_cls"] == {type(model.model.encoder.layers[0])}
    assert type(model.model.encoder.layers[0]).__name__ == "TransfuseLayer"


@pytest.mark.parametrize("name, stage", [("deepspeed_zero2.yaml", "2"), ("deepspeed_zero3.yaml", "3")])
def test_deepspeed_environment(name, stage):
    args, defaults, _ = _resolve(name)
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == stage
    # left to the Trainer's flags ("auto"), so DeepSpeed and TrainingArguments never disagree
    assert "ACCELERATE_GRADIENT_ACCUMULATION_STEPS" not in env
    if stage == "3":
        assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"


def test_multi_node_splits_processes_over_machines():
    args, _, _ = _resolve("multi_node.yaml")
    env = prepare_multi_gpu_env(args)
    assert (args.nnodes, args.nproc_per_node, args.node_rank) == ("2", "8", 0)
    assert args.rdzv_endpoint == "10.0.0.1:29500" and args.rdzv_backend == "static"
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"
