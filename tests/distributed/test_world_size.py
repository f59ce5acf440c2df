"""The world-size check: what the user asked for is read from the launcher, compared, and refused with a fix."""

from __future__ import annotations

import pytest

from transfuse import distributed
from transfuse.distributed import (
    WorldSizeMismatchError,
    check_world_size,
    enable_cpu_process_group,
    per_process_device_map,
    requested_world_size,
    running_world_size,
    with_launcher,
    world_size_from_accelerate_launch,
)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["/venv/bin/python", "/venv/bin/accelerate", "launch", "--cpu", "--num_processes", "2", "run.py"], 2),
        (["accelerate", "launch", "--num-processes=3", "--multi_gpu", "run.py", "--lr", "1"], 3),
        (["python", "-m", "accelerate.commands.launch", "--num_processes", "4", "run.py"], 4),
        (["/venv/bin/accelerate-launch", "--num_processes", "5", "run.py"], 5),
        # a flag of the script itself, after the script name, is not the launcher's
        (["accelerate", "launch", "--cpu", "run.py", "--num_processes", "7"], None),
        (["torchrun", "--nproc_per_node", "2", "run.py"], None),
        (["bash"], None),
    ],
)
def test_requested_world_size_from_launch_command(argv, expected):
    request = world_size_from_accelerate_launch(argv)
    assert (request.world_size if request else None) == expected


@pytest.mark.parametrize(
    "launcher, expected",
    [
        (
            [
                "/venv/bin/python",
                "/venv/bin/accelerate",
                "launch",
                "--config_file",
                "multi_cpu.yaml",
                "run.py",
                "--lr",
                "1",
            ],
            "accelerate launch --config_file multi_cpu.yaml run.py --lr 1",
        ),
        (
            ["/venv/bin/python", "/venv/bin/torchrun", "--nproc_per_node", "2", "run.py", "--lr", "1"],
            "torchrun --nproc_per_node 2 run.py --lr 1",
        ),
        (
            ["python", "-m", "torch.distributed.run", "--nnodes", "1", "run.py", "--lr", "1"],
            "torchrun --nnodes 1 run.py --lr 1",
        ),
        (["bash"], "python run.py --lr 1"),
    ],
)
def test_the_recorded_command_names_its_launcher(launcher, expected):
    assert with_launcher("python run.py --lr 1", launcher_argv=launcher) == expected


def test_explicit_environment_variable_wins():
    env = {"TRANSFUSE_EXPECTED_WORLD_SIZE": "4"}
    request = requested_world_size(env, launcher_argv=["accelerate", "launch", "--num_processes", "2", "run.py"])
    assert (request.world_size, request.source) == (4, "TRANSFUSE_EXPECTED_WORLD_SIZE=4")
    with pytest.raises(ValueError, match="TRANSFUSE_EXPECTED_WORLD_SIZE='two' must be a positive integer"):
        requested_world_size({"TRANSFUSE_EXPECTED_WORLD_SIZE": "two"}, launcher_argv=[])


def test_running_world_size_reads_every_launcher():
    assert running_world_size({}) == 1
    assert running_world_size({"WORLD_SIZE": "4", "RANK": "0"}) == 4
    assert running_world_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3  # mpirun


def test_accelerate_cpu_launch_is_refused_with_the_working_command(monkeypatch):
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: False)
    argv = ["accelerate", "launch", "--cpu", "--num_processes", "2", "run.py"]
    with pytest.raises(WorldSizeMismatchError) as error:
        check_world_size(environ={}, launcher_argv=argv)
    message = str(error.value)
    assert "asked for 2 processes (`accelerate launch --cpu --num_processes 2`) but 1 is running" in message
    assert "accelerate launch --multi_gpu --num_processes 2 --num_machines 1" in message
    assert "torchrun --nproc_per_node 2" in message


def test_matching_launch_passes():
    env = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}
    argv = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "run.py"]
    assert check_world_size(environ=env, launcher_argv=argv) == 2
    assert check_world_size(environ={}, launcher_argv=["python", "run.py"]) == 1
    with pytest.raises(WorldSizeMismatchError, match="asked for 3 processes"):
        check_world_size(expected=3, environ=env, launcher_argv=[])


def test_cpu_launches_get_a_process_group(monkeypatch):
    """transformers builds the gloo group only with ACCELERATE_USE_CPU on a CPU-only machine; without it each
    process of `torchrun --nproc_per_node 2` trains alone (TrainingArguments.world_size == 1)."""
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: False)
    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}
    assert enable_cpu_process_group(env) and env["ACCELERATE_USE_CPU"] == "true"
    chosen = {"WORLD_SIZE": "2", "RANK": "0", "ACCELERATE_USE_CPU": "false"}
    assert not enable_cpu_process_group(chosen) and chosen["ACCELERATE_USE_CPU"] == "false"  # the user's choice
    assert not enable_cpu_process_group({})


def test_trainer_that_sees_one_process_of_two_is_refused():
    class AloneTrainingArguments:
        world_size = 1

    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "ACCELERATE_USE_CPU": "false"}
    expected = "started 2 processes but the Trainer set up a process group of 1"
    with pytest.raises(WorldSizeMismatchError, match=expected):
        check_world_size(AloneTrainingArguments(), environ=env, launcher_argv=[])


def test_stale_world_size_in_the_shell_is_refused():
    with pytest.raises(WorldSizeMismatchError, match="WORLD_SIZE=2 is set in the environment but no launcher"):
        check_world_size(environ={"WORLD_SIZE": "2"}, launcher_argv=[])


def test_config_file_process_count(tmp_path):
    config = tmp_path / "four.yaml"
    config.write_text("distributed_type: 'NO'\nuse_cpu: true\nnum_processes: 4\n")
    request = world_size_from_accelerate_launch(["accelerate", "launch", "--config_file", str(config), "run.py"])
    assert request.world_size == 4 and str(config) in request.source


def test_quantized_base_goes_on_this_ranks_device(monkeypatch):
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: False)
    assert per_process_device_map() == "cpu"
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert per_process_device_map() == {"": 3}  # never "auto": each DDP rank holds its own replica


def test_qlora_loading_uses_the_per_process_device_map(monkeypatch):
    from transformers import AutoModelForSequenceClassification

    import transfuse
    from transfuse.adapters import AdapterArguments, quantization

    monkeypatch.setattr(quantization, "per_process_device_map", lambda: {"": 1})  # as on rank 1 of a GPU run
    kwargs = quantization.quantization_kwargs(
        AdapterArguments(adapter="lora", quantization="4bit"),
        AutoModelForSequenceClassification,
        transfuse.get_preset("tiny", "encoder", vocab_size=300),
    )
    assert kwargs["device_map"] == {"": 1}
