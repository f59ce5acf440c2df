"""Every shipped task config parses with the arguments of its task, and names its launch command in a
header."""

from __future__ import annotations

from pathlib import Path

import pytest

from transfuse.tasks import TASKS, get_task_class
from transfuse.training import check_arguments, parse_arguments

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TASK_CONFIGS = sorted(path for task in TASKS for path in (CONFIGS / task).glob("*.yaml"))


def test_every_task_with_a_config_folder_ships_configs():
    assert any(path.parent.name == "classification" for path in TASK_CONFIGS)


@pytest.mark.parametrize("path", TASK_CONFIGS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_task_config_parses_and_names_its_launch_command(path: Path):
    # a folder holds its task's configs, and may hold a related task's (configs/qa: qa and generative-qa)
    folder = path.parent.name
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    named = [
        task
        for task in TASKS
        if any(f"transfuse train {task} configs/{folder}/{path.name}" in line for line in header)
    ]
    assert len(named) == 1, f"{path} must give its launch command in a header comment"
    task = named[0]
    args = parse_arguments(get_task_class(task), [str(path)])
    check_arguments(args, "train")
    assert args.training.output_dir.startswith("runs/")  # runs/ is git-ignored
