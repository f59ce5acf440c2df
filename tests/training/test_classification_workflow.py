"""`transfuse.training.workflow` end to end for classification: every input kind, bad inputs, the run folder,
resuming, and models from a transfuse checkpoint or a Hugging Face BERT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from transformers import AutoConfig, BertConfig, BertForSequenceClassification, pipeline

from transfuse.common.folder import LOSS_CURVE_FILE, METRICS_FILE, MODEL_CARD_FILE
from transfuse.data import DataValidationError, loading
from transfuse.tasks.classification import ClassificationTask
from transfuse.tokenization import train_tokenizer
from transfuse.training import parse_arguments, workflow


def train(argv: list[str]) -> dict:
    return workflow.train(
        "classification", parse_arguments(ClassificationTask, argv), "transfuse train " + " ".join(argv)
    )


def run_dir(flags: list[str]) -> Path:
    return Path(flags[flags.index("--output_dir") + 1])


def test_single_sentences_with_string_labels_and_a_skipped_bad_row(sentiment_rows, write_data, tiny_flags):
    rows = sentiment_rows(24, seed=0)
    rows["text"][3] = "   "  # an empty text, skipped on request
    results = train(
        [
            "--train_file",
            write_data("train.jsonl", rows),
            "--validation_file",
            write_data("validation.jsonl", sentiment_rows(8, seed=1)),
            "--skip_bad_rows",
            *tiny_flags,
        ]
    )
    out = run_dir(tiny_flags)
    assert {METRICS_FILE, MODEL_CARD_FILE, LOSS_CURVE_FILE, "model.safetensors", "tokenizer.json"} <= {
        p.name for p in out.iterdir()
    }
    assert results["skipped_rows"][0]["reasons"] == {"empty text in column 'text'": 1}
    assert set(results["eval"]["per_class"]) == {"neg", "pos"} and 0.0 <= results["eval"]["accuracy"] <= 1.0
    config = AutoConfig.from_pretrained(out)
    assert config.id2label == {0: "neg", 1: "pos"} and config.problem_type == "single_label_classification"
    card = (out / MODEL_CARD_FILE).read_text()
    assert "model-index:" in card and "type: accuracy" in card and "transfuse train --train_file" in card
    assert json.loads((out / METRICS_FILE).read_text())["train"]["train_loss"] > 0
    assert (out / LOSS_CURVE_FILE).read_bytes()[:4] == b"\x89PNG"


def test_sentence_pairs_with_named_integer_labels_from_csv(sentiment_rows, write_data, tiny_flags):
    pairs = sentiment_rows(16, seed=2)
    columns = {
        "a": pairs["text"],
        "b": pairs["text"][::-1],
        "label": [int(x == "pos") for x in pairs["label"]],
    }
    results = train(
        [
            "--train_file",
            write_data("train.csv", columns),
            "--validation_file",
            write_data("validation.csv", columns),
            "--text_column",
            "a",
            "--text_pair_column",
            "b",
            "--class_names",
            "different",
            "same",
            *tiny_flags,
        ]
    )
    assert AutoConfig.from_pretrained(run_dir(tiny_flags)).id2label == {0: "different", 1: "same"}
    assert set(results["eval"]["per_class"]) == {"different", "same"}


def test_multi_label_lists_from_json(sentiment_rows, write_data, tiny_flags):
    rows = sentiment_rows(16, seed=3)
    columns = {
        "text": rows["text"],
        "tags": [[label, "review"] if i % 3 else [label] for i, label in enumerate(rows["label"])],
    }
    results = train(
        [
            "--train_file",
            write_data("train.json", columns),
            "--validation_file",
            write_data("validation.json", columns),
            "--label_column",
            "tags",
            *tiny_flags,
        ]
    )
    config = AutoConfig.from_pretrained(run_dir(tiny_flags))
    assert config.problem_type == "multi_label_classification" and config.num_labels == 3
    assert {"f1_micro", "f1_macro", "subset_accuracy"} <= set(results["eval"])


def test_regression_targets_from_parquet(sentiment_rows, write_data, tiny_flags):
    rows = sentiment_rows(16, seed=4)
    columns = {"text": rows["text"], "stars": [4.5 if label == "pos" else 1.25 for label in rows["label"]]}
    results = train(
        [
            "--train_file",
            write_data("train.parquet", columns),
            "--validation_file",
            write_data("validation.parquet", columns),
            "--label_column",
            "stars",
            *tiny_flags,
        ]
    )
    config = AutoConfig.from_pretrained(run_dir(tiny_flags))
    assert config.problem_type == "regression" and config.num_labels == 1
    assert {"pearson", "spearman", "mse"} <= set(results["eval"])


def test_hub_dataset_with_class_label_names(sentiment_rows, monkeypatch, tiny_flags):
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["negative", "positive"])})
    rows = sentiment_rows(16, seed=5)
    split = Dataset.from_dict(
        {"sentence": rows["text"], "label": [int(x == "pos") for x in rows["label"]]}, features=features
    )
    monkeypatch.setattr(loading, "hub_unreachable_reason", lambda: None)
    monkeypatch.setattr(
        loading.datasets,
        "load_dataset",
        lambda name, config, **kwargs: DatasetDict(train=split, validation=split),
    )
    results = train(["--dataset_name", "glue", "--dataset_config", "sst2", "--text_column", "sentence", *tiny_flags])
    assert set(results["eval"]["per_class"]) == {"negative", "positive"}
    assert "glue/sst2 [validation]" in (run_dir(tiny_flags) / MODEL_CARD_FILE).read_text()


@pytest.mark.parametrize(
    "validation, message",
    [
        (
            {"text": ["the film was good"], "label": ["neutral"]},
            "row 1, column 'label': label not seen in training",
        ),
        ({"text": [""], "label": ["pos"]}, "row 1, column 'text': empty text"),
        ({"sentence": ["the film was good"], "label": ["pos"]}, "The columns are: 'sentence', 'label'"),
    ],
)
def test_bad_validation_rows_stop_the_run_before_a_model_is_built(
    sentiment_rows, monkeypatch, write_data, tiny_flags, validation, message
):
    monkeypatch.setattr(workflow, "load_for_training", lambda *a, **k: pytest.fail("model built despite bad data"))
    with pytest.raises(DataValidationError, match=message):
        train(
            [
                "--train_file",
                write_data("train.jsonl", sentiment_rows(8, 0)),
                "--validation_file",
                write_data("validation.jsonl", validation),
                *tiny_flags,
            ]
        )


def test_nan_regression_target_is_named(monkeypatch, write_data, tiny_flags):
    monkeypatch.setattr(workflow, "load_for_training", lambda *a, **k: pytest.fail("model built despite bad data"))
    train_file = write_data("train.parquet", {"text": ["a b", "c d", "e f"], "y": [0.5, float("nan"), 1.5]})
    with pytest.raises(DataValidationError, match="row 2, column 'y': target is NaN or infinite"):
        train(["--train_file", train_file, "--label_column", "y", "--problem_type", "regression", *tiny_flags])


def test_finished_runs_are_kept_and_interrupted_runs_resume(sentiment_rows, write_data, tiny_flags):
    files = ["--train_file", write_data("train.jsonl", sentiment_rows(32, 6))]
    checkpointing = [*tiny_flags, "--save_strategy", "steps", "--save_steps", "2"]
    train([*files, *checkpointing])
    out = run_dir(tiny_flags)
    with pytest.raises(FileExistsError, match="already holds a finished run.*--overwrite_output_dir"):
        train([*files, *checkpointing])
    (out / METRICS_FILE).unlink()  # as if the run had been killed after its checkpoint
    with pytest.raises(FileExistsError, match="unfinished run.*--resume_from_checkpoint auto"):
        train([*files, *checkpointing])
    with pytest.raises(ValueError, match="other training arguments: max_steps 2 there, 3 here"):
        train([*files, *checkpointing, "--max_steps", "3", "--resume_from_checkpoint", "auto"])
    results = train([*files, *checkpointing, "--resume_from_checkpoint", "auto"])
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and results["train"]["epoch"] > 0 and not (out / "checkpoint-3").exists()


def test_transfuse_checkpoint_and_pipeline(sentiment_rows, write_data, tiny_flags, tmp_path):
    files = ["--train_file", write_data("train.jsonl", sentiment_rows(16, 7))]
    train([*files, *tiny_flags])
    first = run_dir(tiny_flags)
    second = tmp_path / "continued"
    flags = [f for f in tiny_flags if f not in ("--preset", "tiny", "--vocab_size", "300")]
    flags[flags.index("--output_dir") + 1] = str(second)
    train([*files, "--model_name_or_path", str(first), *flags])
    classifier = pipeline("text-classification", model=str(second), device="cpu")
    assert {p["label"] for p in classifier(["the film was good", "the plot was bad"])} <= {"neg", "pos"}


def test_any_sequence_classification_model_from_a_folder(sentiment_rows, write_data, tiny_flags, tmp_path):
    """(c): a Hugging Face BERT saved locally, with a head for other labels, fine-tuned in full."""
    texts = sentiment_rows(16, 8)
    tokenizer = train_tokenizer(texts["text"], kind="wordpiece", vocab_size=100, min_frequency=1, show_progress=False)
    bert = BertForSequenceClassification(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            num_labels=3,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    bert.save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    flags = [f for f in tiny_flags if f not in ("--preset", "tiny", "--vocab_size", "300")]
    results = train(
        [
            "--train_file",
            write_data("train.jsonl", texts),
            "--validation_file",
            write_data("validation.jsonl", texts),
            "--model_name_or_path",
            str(tmp_path / "bert"),
            "--ignore_mismatched_sizes",
            *flags,
        ]
    )
    config = AutoConfig.from_pretrained(run_dir(tiny_flags))
    assert config.model_type == "bert" and config.id2label == {0: "neg", 1: "pos"}
    card = (run_dir(tiny_flags) / MODEL_CARD_FILE).read_text()
    assert f"fine-tuned from `{tmp_path / 'bert'}` with transfuse on " in card
    assert card.split(" with transfuse on ")[1].split("\n")[0].rstrip(".").endswith("train.jsonl")  # not the eval file
    assert "accuracy" in results["eval"]


def test_a_short_run_learns(sentiment_rows, write_data, tmp_path):
    """Learning test: a tiny transfuse from scratch separates the two polarities after 60 steps. Training groups
    batches by length, which transformers 5 also applies to evaluation: predictions must still line up."""
    out = tmp_path / "learned"
    options = {
        "preset": "tiny", "tokenizer_kind": "wordpiece", "vocab_size": 200, "max_seq_length": 16, "max_steps": 60,
        "learning_rate": 3e-3, "warmup_steps": 5, "per_device_train_batch_size": 16, "per_device_eval_batch_size": 8,
        "train_sampling_strategy": "group_by_length", "save_strategy": "no", "disable_tqdm": "true", "seed": 0,
        "output_dir": out, "cache_dir": tmp_path / "cache",
    }  # fmt: skip
    files = {"train_file": write_data("train.jsonl", sentiment_rows(240, 10)),
             "validation_file": write_data("validation.jsonl", sentiment_rows(60, 11))}  # fmt: skip
    results = train([word for key, value in {**files, **options}.items() for word in (f"--{key}", str(value))])
    assert results["eval"]["accuracy"] >= 0.9, results["eval"]
    history = json.loads((out / METRICS_FILE).read_text())["train"]
    assert history["train_loss"] < 0.69  # below the loss of a coin flip, averaged over the whole run
    torch.testing.assert_close(
        torch.tensor(results["eval"]["f1_macro"]),
        torch.tensor(results["eval"]["accuracy"]),
        atol=0.05,
        rtol=0,
    )


def test_tiny_preset_trains_its_tokenizer_without_a_vocab_size():
    from transfuse.tasks.classification import ClassificationArguments, ClassificationTask
    from transfuse.training.arguments import ModelArguments
    from transfuse.training.models import _build_from_preset

    task = ClassificationTask(ClassificationArguments(), max_seq_length=32)
    task.load_from_config(type("Cfg", (), {"problem_type": None, "num_labels": 2, "id2label": {0: "a", 1: "b"}}))
    texts = [f"sentence number {i} is {'good' if i % 2 else 'bad'}" for i in range(50)]
    loaded = _build_from_preset(task, ModelArguments(preset="tiny"), texts)
    assert loaded.model.config.vocab_size == len(loaded.tokenizer) > 256
