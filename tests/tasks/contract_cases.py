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

from transfuse.tasks.qa import QuestionAnsweringPipeline

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
    task: str | None = None  # the registered task this case runs, when not its own name (a variant's flags)


def _sentiment(n: int, seed: int) -> Rows:
    rng = random.Random(seed)
    words = {"pos": ["good", "great", "fine", "lovely"], "neg": ["bad", "awful", "poor", "dull"]}
    rows: Rows = {"text": [], "label": []}
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        rows["text"].append(f"the {rng.choice(['film', 'meal', 'book', 'song'])} was {rng.choice(words[label])}")
        rows["label"].append(label)
    return rows


def _reversal(n: int, seed: int) -> Rows:
    """Translation: letters in, the same letters reversed and upper-cased out."""
    rng = random.Random(seed)
    sources = [" ".join(rng.choice("abcdefgh") for _ in range(rng.randint(2, 6))) for _ in range(n)]
    return {"src": sources, "tgt": [" ".join(reversed(source.upper().split())) for source in sources]}


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


def _squad(n: int, seed: int, unanswerable: bool = False) -> Rows:
    """SQuAD rows "the answer is the word after key": the word after `key` in a short context."""
    rng = random.Random(seed)
    words = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "sea", "sky"]
    rows: Rows = {"id": [], "question": [], "context": [], "answers": []}
    for i in range(n):
        context_words = [rng.choice(words) for _ in range(8)]
        position = rng.randrange(7)
        context_words[position] = "key"
        context = " ".join(context_words)
        start = len(" ".join(context_words[: position + 1])) + 1
        answer = context_words[position + 1]
        empty = unanswerable and i % 4 == 3
        rows["id"].append(f"{seed}-{i}")
        rows["question"].append("after key ?" if not empty else "after lock ?")
        rows["context"].append(context)
        rows["answers"].append({"text": [] if empty else [answer], "answer_start": [] if empty else [start]})
    return rows


def _srl_case(flags: list[str], task: str | None = None) -> ContractCase:
    return ContractCase(
        train=_propositions(32, seed=0),
        validation=_propositions(8, seed=1),
        test=_without(_propositions(6, seed=2), "tags"),
        flags=flags,
        pipeline_input=lambda row: {"tokens": row["tokens"], "predicate_index": row["predicate_index"]},
        pipeline_matches=lambda answer, predicted: (
            answer["predicate_index"] == predicted["predicate_index"] and answer["tags"] == predicted["tags"]
        ),
        task=task,
    )


CASES: dict[str, ContractCase] = {
    "classification": ContractCase(
        train=_sentiment(32, seed=0),
        validation=_sentiment(8, seed=1),
        test=_without(_sentiment(6, seed=2), "label"),
        pipeline_input=lambda row: row["text"],
        pipeline_matches=lambda answer, predicted: (
            answer["label"] == predicted["label"] and abs(answer["score"] - predicted["score"]) < 1e-3
        ),
    ),
    "translation": ContractCase(
        train=_reversal(32, seed=0),
        validation=_reversal(8, seed=1),
        test=_without(_reversal(6, seed=2), "tgt"),
        # --fp32: the pipeline runs in fp32, and an untrained model's greedy choices can flip under bf16
        flags=[
            "--source_lang",
            "src",
            "--target_lang",
            "tgt",
            "--max_target_length",
            "12",
            "--num_beams",
            "1",
            "--fp32",
        ],  # fmt: skip
        pipeline_input=lambda row: row["src"],
        pipeline_matches=lambda answer, predicted: answer["translation_text"] == predicted["translation"],
    ),
    "qa": ContractCase(
        train=_squad(32, seed=0, unanswerable=True),
        validation=_squad(8, seed=1, unanswerable=True),
        test=_without(_squad(6, seed=2), "answers"),
        flags=["--version_2_with_negative", "--doc_stride", "8"],
        pipeline_input=lambda row: {"question": row["question"], "context": row["context"]},
        pipeline_matches=lambda answer, predicted: (
            answer["answer"] == predicted["answer"] and abs(answer["score"] - predicted["score"]) < 1e-3
        ),
        pipeline_kwargs={"pipeline_class": QuestionAnsweringPipeline},
    ),
    "generative-qa": ContractCase(
        train=_squad(32, seed=0, unanswerable=True),
        validation=_squad(8, seed=1, unanswerable=True),
        test=_without(_squad(6, seed=2), "answers"),
        # --fp32: the pipeline runs in fp32, and an untrained model's greedy choices can flip under bf16
        flags=["--version_2_with_negative", "--no_answer_text", "none", "--max_answer_length", "6", "--fp32"],
        pipeline_input=lambda row: {"question": row["question"], "context": row["context"]},
        pipeline_matches=lambda answer, predicted: (
            answer["answer"] == predicted["answer"] and answer["is_impossible"] == predicted["is_impossible"]
        ),
    ),
    # the pipeline runs in fp32: predict does too, so the tags must agree exactly
    "srl": _srl_case(["--fp32"]),
    # the default, `--tagging_head predicate`, is a model type of its own; the model's own token head is the other
    "srl-token-head": _srl_case(["--fp32", "--tagging_head", "token"], task="srl"),
}
