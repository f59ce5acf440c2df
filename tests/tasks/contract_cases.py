"""One tiny case per registered task for the task contract test (`test_task_contract.py`).

A case gives in-memory rows for the train / validation / test splits (columns as the task reads them, the
test split without targets) and the task flags a run needs (columns, lengths). The contract test writes the
rows as files, trains a tiny transfuse model from `--preset tiny`, evaluates, predicts, reloads, runs the
task's pipeline and repeats with `--adapter lora`. A task registered in `transfuse.tasks.TASKS` without a case
here fails the contract test: add its case in the same change as its registry line.

    CASES["my-task"] = ContractCase(train=..., validation=..., test=..., flags=[...])

`pipeline_input(row)` turns one test row into the input of `transformers.pipeline(task.pipeline_tag)` and
`pipeline_matches(pipeline_output, predict_output)` says whether the pipeline answered as `predict` did;
leave `pipeline_input` as None where the task has no pipeline.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Rows = dict[str, list]


@dataclass
class ContractCase:
    train: Rows
    validation: Rows
    test: Rows
    flags: list[str] = field(default_factory=list)
    suffix: str = ".jsonl"  # the file format the rows are written in
    pipeline_input: Callable[[dict[str, Any]], Any] | None = None
    pipeline_matches: Callable[[Any, dict[str, Any]], bool] | None = None
    pipeline_kwargs: dict[str, Any] = field(default_factory=dict)


def _sentiment(n: int, seed: int) -> Rows:
    rng = random.Random(seed)
    words = {"pos": ["good", "great", "fine", "lovely"], "neg": ["bad", "awful", "poor", "dull"]}
    rows: Rows = {"text": [], "label": []}
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        rows["text"].append(f"the {rng.choice(['film', 'meal', 'book', 'song'])} was {rng.choice(words[label])}")
        rows["label"].append(label)
    return rows


def _propositions(n: int, seed: int) -> Rows:
    """SRL rows: the word before each verb is its ARG0 (see tests/tasks/srl/synthetic.py)."""
    rng = random.Random(seed)
    rows: Rows = {"tokens": [], "predicate_index": [], "tags": []}
    for _ in range(n):
        words = [rng.choice(["cat", "dog", "the", "a", "owl"]) for _ in range(5)]
        predicate = rng.randint(1, 4)
        words[predicate] = rng.choice(["saw", "fed", "hid"])
        rows["tokens"].append(words)
        rows["predicate_index"].append(predicate)
        rows["tags"].append(["B-ARG0" if i == predicate - 1 else "B-V" if i == predicate else "O" for i in range(5)])
    return rows


def _without(rows: Rows, *columns: str) -> Rows:
    return {key: value for key, value in rows.items() if key not in columns}


CASES: dict[str, ContractCase] = {
    "classification": ContractCase(
        train=_sentiment(32, seed=0),
        validation=_sentiment(8, seed=1),
        test=_without(_sentiment(6, seed=2), "label"),
        pipeline_input=lambda row: row["text"],
        pipeline_matches=lambda answer, predicted: answer["label"] == predicted["label"]
        and abs(answer["score"] - predicted["score"]) < 1e-3,
    ),
    "srl": ContractCase(
        train=_propositions(32, seed=0),
        validation=_propositions(8, seed=1),
        test=_without(_propositions(6, seed=2), "tags"),
        # predict runs bf16 autocast where the CPU multiplies bf16 natively, the pipeline fp32: compare the frame's
        # predicate and shape; tests/tasks/srl/test_srl_task.py checks exact equality under --fp32
        pipeline_input=lambda row: {"tokens": row["tokens"], "predicate_index": row["predicate_index"]},
        pipeline_matches=lambda answer, predicted: answer["predicate_index"] == predicted["predicate_index"]
        and len(answer["tags"]) == len(predicted["tags"]),
    ),
}
