"""The task contract: every registered task trains, evaluates, predicts, reloads and adapts the same way.

Parametrised over the cases of `contract_cases.py`: one tiny case per task of `transfuse.tasks.TASKS`, and
variants that run a task with other flags (SRL's token head). For each task
a tiny transfuse model (`--preset tiny`, its default architecture) is trained for a few steps, then:

* the run folder reloads: `evaluate` on it gives the metrics the training run reported on the same data;
* `predict` writes one output line per input row, in order (reversing the input reverses the output);
* the task's `transformers.pipeline` on the run folder answers as `predict` did, where the task has one;
* `--adapter lora` on top of that run: the adapter run folder (adapter + head) reloads with identical outputs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from contract_cases import CASES, ContractCase
from datasets import Dataset
from transformers import pipeline

import transfuse  # noqa: F401  (registers the transfuse model type)
from transfuse.tasks import TASKS, get_task_class
from transfuse.training import parse_arguments, workflow

RUN_FLAGS = [
    "--preset", "tiny", "--vocab_size", "300", "--max_seq_length", "32", "--max_steps", "3",
    "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "16", "--learning_rate", "1e-3",
    "--logging_steps", "1", "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none",
]  # fmt: skip


def write_rows(path: Path, rows: dict[str, list]) -> str:
    data = Dataset.from_dict(rows)
    if path.suffix == ".csv":
        data.to_csv(path, index=False)
    else:
        data.to_json(path)
    return str(path)


def run(command: str, name: str, argv: list[str]):
    args = parse_arguments(get_task_class(name), argv, command)
    return getattr(workflow, command)(name, args, f"transfuse {command} {name}")


def reversed_rows(rows: dict[str, list]) -> dict[str, list]:
    return {key: list(reversed(values)) for key, values in rows.items()}


def assert_same_metrics(expected: dict, actual: dict) -> None:
    for key, value in expected.items():
        if isinstance(value, float) and key not in ("runtime", "samples_per_second", "steps_per_second"):
            assert math.isclose(actual[key], value, rel_tol=1e-3, abs_tol=1e-4), (key, value, actual[key])


def test_every_registered_task_has_a_contract_case():
    assert set(TASKS) <= set(CASES), f"add a ContractCase for {sorted(set(TASKS) - set(CASES))}"
    assert {case.task for case in CASES.values() if case.task} <= set(TASKS)


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_task_contract(case_name: str, tmp_path: Path):
    case: ContractCase = CASES[case_name]
    name = case.task or case_name
    files = {
        split: write_rows(tmp_path / f"{split}{case.suffix}", getattr(case, split))
        for split in ("train", "validation", "test")
    }
    reversed_test = write_rows(tmp_path / f"test_reversed{case.suffix}", reversed_rows(case.test))
    data = ["--train_file", files["train"], "--validation_file", files["validation"], *case.flags]
    common = ["--cache_dir", str(tmp_path / "cache"), *case.flags]

    # train a tiny model from scratch, with the task's default architecture
    full = tmp_path / "full"
    trained = run("train", name, [*data, *RUN_FLAGS, "--output_dir", str(full), "--cache_dir", str(tmp_path / "c")])
    assert (full / "metrics.json").is_file() and (full / "README.md").is_file()
    assert trained["train"]["train_loss"] > 0

    # the run folder reloads: evaluate gives the metrics training reported
    evaluated = run("evaluate", name, ["--model_name_or_path", str(full), "--validation_file", files["validation"],
                                       *common])  # fmt: skip
    assert_same_metrics(trained["eval"], evaluated["eval"])

    # predict: one line per input row, in order
    predicted = run("predict", name, ["--model_name_or_path", str(full), "--test_file", files["test"],
                                      "--output_file", str(tmp_path / "out.jsonl"), *common])  # fmt: skip
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert lines == predicted and len(lines) == len(next(iter(case.test.values())))
    backwards = run("predict", name, ["--model_name_or_path", str(full), "--test_file", reversed_test,
                                      "--output_file", str(tmp_path / "back.jsonl"), *common])  # fmt: skip
    assert _round(backwards) == _round(list(reversed(predicted)))

    # the task's pipeline answers as predict does
    task_class = get_task_class(name)
    if case.pipeline_input is not None:
        answer = pipeline(task_class.pipeline_tag, model=str(full), **case.pipeline_kwargs)
        test_rows = Dataset.from_dict(case.test)
        for row, expected in zip(test_rows, predicted):
            got = answer(case.pipeline_input(row))
            got = got[0] if isinstance(got, list) and len(got) == 1 else got
            assert case.pipeline_matches(got, expected), (got, expected)

    # LoRA on the trained model: the adapter run (adapter + head) reloads with identical outputs
    adapted = tmp_path / "lora"
    lora_flags = [flag for flag in RUN_FLAGS if flag not in ("--preset", "tiny", "--vocab_size", "300")]
    lora = run("train", name, [*data, *lora_flags, "--model_name_or_path", str(full), "--adapter", "lora",
                               "--output_dir", str(adapted), "--cache_dir", str(tmp_path / "c")])  # fmt: skip
    assert (adapted / "adapter_config.json").is_file()
    reloaded = run("evaluate", name, ["--model_name_or_path", str(adapted), "--validation_file",
                                      files["validation"], *common])  # fmt: skip
    assert_same_metrics(lora["eval"], reloaded["eval"])


def _round(rows: list[dict]) -> list[str]:
    """Outputs compared across batches of another composition: floats to 4 decimals."""

    def rounded(value):
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, dict):
            return {key: rounded(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rounded(item) for item in value]
        return value

    return [json.dumps(rounded(row), sort_keys=True) for row in rows]
