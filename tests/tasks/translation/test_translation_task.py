"""The translation task without a Trainer: features, order, lengths, direction, metrics, card and outputs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from datasets import Dataset
from transformers import GenerationConfig, Seq2SeqTrainingArguments

from transfuse.data.validation import DataValidationError
from transfuse.tasks import get_task_class
from transfuse.tasks.translation import TranslationArguments, TranslationTask
from transfuse.tasks.translation.generation import update_generation_config
from transfuse.tasks.translation.task import INDEX_COLUMN

from .conftest import make_task, reversal_pairs, tiny_config

SOURCES = ["a b", "a b c d e f g h", "c", "d e f"]
TARGETS = ["B A", "H G F E D C B A", "C", "F E D"]


def attached(tokenizer, **kwargs) -> TranslationTask:
    task = make_task(**kwargs)
    task.attach(tokenizer, tiny_config(tokenizer))
    return task


def test_registry_and_defaults():
    assert get_task_class("translation") is TranslationTask
    assert TranslationTask.architectures == ("encoder-decoder",)
    assert TranslationTask.training_args_class is Seq2SeqTrainingArguments
    assert TranslationTask.training_defaults["predict_with_generate"] is True
    assert TranslationTask.training_defaults["metric_for_best_model"] == "bleu"


def test_evaluation_features_are_sorted_and_outputs_come_back_in_input_order(tiny_tokenizer):
    task = attached(tiny_tokenizer)
    examples = Dataset.from_dict({"src": SOURCES, "tgt": TARGETS})
    features = task.preprocess(examples, tiny_tokenizer, "validation")
    lengths = [len(ids) for ids in features["input_ids"]]
    assert lengths == sorted(lengths, reverse=True) and features[INDEX_COLUMN] == [1, 3, 0, 2]
    # the generated ids of feature i are its labels, padded with -100 as the evaluation loop pads them
    width = max(len(labels) for labels in features["labels"])
    predictions = np.array([labels + [-100] * (width - len(labels)) for labels in features["labels"]])
    outputs = task.postprocess(predictions, features, examples)
    assert [output["translation"] for output in outputs] == TARGETS
    metrics = task.compute_metrics(outputs, examples)
    assert metrics["bleu"] == pytest.approx(100.0) and metrics["mean_length_ratio"] == pytest.approx(1.0)
    assert metrics["bleu_signature"].startswith("nrefs:1|")
    card = task.card_metrics(metrics)
    assert set(card) == {"bleu", "chrf", "mean_length_ratio", "length_ratio", "brevity_penalty"}


def test_training_features_keep_the_data_order_and_labels_are_the_target(tiny_tokenizer):
    task = attached(tiny_tokenizer)
    features = task.preprocess(Dataset.from_dict({"src": SOURCES, "tgt": TARGETS}), tiny_tokenizer, "train")
    assert features[INDEX_COLUMN] == [0, 1, 2, 3]
    assert tiny_tokenizer.decode(features["labels"][3], skip_special_tokens=True) == "F E D"
    assert features["labels"][3][0] == tiny_tokenizer.bos_token_id  # <s> target </s>, as in pretraining


def test_long_sources_are_truncated_and_counted_or_refused(tiny_tokenizer):
    task = attached(tiny_tokenizer, max_seq_length=6, max_target_length=5)
    examples = Dataset.from_dict({"src": SOURCES, "tgt": TARGETS})
    features = task.preprocess(examples, tiny_tokenizer, "validation")
    assert max(len(ids) for ids in features["input_ids"]) == 6
    assert features["input_ids"][0][-1] == tiny_tokenizer.eos_token_id  # truncation keeps the end token
    assert task.truncated["validation"] == {"rows": 4, "sources_truncated": 1, "targets_truncated": 1}
    refusing = attached(tiny_tokenizer, max_seq_length=6, truncation=False)
    with pytest.raises(DataValidationError, match=r"1 source\(s\) longer than the 6 tokens.*row 2 \(10 tokens\)"):
        refusing.preprocess(examples, tiny_tokenizer, "validation")


def test_the_model_positions_bound_the_source_length(tiny_tokenizer):
    task = make_task(max_seq_length=512)
    task.attach(tiny_tokenizer, tiny_config(tiny_tokenizer, max_position_embeddings=16))
    assert task.source_limit == 16 and task.max_positions() == 512


def test_direction_comes_from_the_trained_model_and_contradictions_are_refused(tiny_tokenizer):
    trained = make_task(source_prefix="rev: ")
    config = tiny_config(tiny_tokenizer, **trained.config_updates())
    task = TranslationTask(TranslationArguments(), max_seq_length=32)
    task.load_from_config(config)
    assert (task.source_lang, task.target_lang, task.source_prefix) == ("src", "tgt", "rev: ")
    with pytest.raises(ValueError, match="trained to translate src -> tgt"):
        TranslationTask(TranslationArguments(source_lang="tgt"), 32).load_from_config(config)
    with pytest.raises(ValueError, match="pass --source_lang"):
        TranslationTask(TranslationArguments(), 32).load_from_config(tiny_config(tiny_tokenizer))


def fake_args(command_options=None, **training):
    defaults = dict(save_strategy="steps", save_total_limit=None, load_best_model_at_end=False, output_dir="runs/x")
    training_args = SimpleNamespace(**{**defaults, **training})
    return SimpleNamespace(
        task=TranslationArguments(**(command_options or {"source_lang": "de", "target_lang": "en"})),
        model=SimpleNamespace(from_scratch=True, architecture="encoder"),
        training=training_args,
        run=SimpleNamespace(output_file="out/pred.jsonl"),
    )


def test_check_arguments():
    args = fake_args()
    TranslationTask.check_arguments(args, "train")
    assert args.model.architecture == "encoder-decoder"  # the shared default cannot translate
    with pytest.raises(ValueError, match="--source_lang and --target_lang"):
        TranslationTask.check_arguments(fake_args({"source_lang": "de"}), "train")
    averaging = {"source_lang": "de", "target_lang": "en", "average_checkpoints": 5}
    with pytest.raises(ValueError, match="--save_total_limit 2 deletes older ones"):
        TranslationTask.check_arguments(fake_args(averaging, save_total_limit=2), "train")
    with pytest.raises(ValueError, match="--load_best_model_at_end"):
        TranslationTask.check_arguments(fake_args({**averaging}, load_best_model_at_end=True), "train")
    with pytest.raises(ValueError, match="--architecture decoder"):
        args = fake_args()
        args.model.architecture = "decoder"
        TranslationTask.check_arguments(args, "train")
    plotting = fake_args({"source_lang": "de", "attention_plot": 2})
    TranslationTask.check_arguments(plotting, "predict")
    assert str(plotting.task.plot_file) == "out/pred.attention.png"


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_run_folders_saved_average_checkpoints_does_not_stop_evaluate_or_predict(command):
    # transfuse_task.json replays the training run's --average_checkpoints 5 as a default: nothing to average
    args = fake_args({"source_lang": "de", "average_checkpoints": 5}, save_strategy="no", save_total_limit=1)
    TranslationTask.check_arguments(args, command)
    assert args.task.average_checkpoints == 0


def test_decoding_flags_go_into_the_generation_config():
    config = GenerationConfig(num_beams=5, length_penalty=0.6)
    update_generation_config(config, TranslationArguments(no_repeat_ngram_size=3), trained=False)
    assert (config.num_beams, config.length_penalty, config.no_repeat_ngram_size) == (5, 0.6, 3)  # model's kept
    assert config.max_length == 129 and config.early_stopping is True
    fresh = GenerationConfig()
    update_generation_config(fresh, TranslationArguments(), trained=True)
    assert (fresh.num_beams, fresh.length_penalty, fresh.no_repeat_ngram_size) == (4, 1.0, 0)


def test_outputs_as_json_lines_or_text(tmp_path):
    outputs = [{"translation": "a dog"}, {"error": "empty text in column 'de'"}, {"translation": "ein"}]
    make_task().write_outputs(outputs, tmp_path / "out.jsonl")
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == outputs
    make_task(output_format="text").write_outputs(outputs, tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text().split("\n") == ["a dog", "", "ein", ""]


def test_bad_rows_and_training_texts_cover_both_languages():
    task = make_task()
    examples = Dataset.from_dict({"src": ["a", " ", "b"], "tgt": ["A", "B", None]})
    bad = task.find_bad_rows(examples, "train")
    assert [(row.index, row.column, row.problem) for row in bad] == [
        (1, "src", "empty text"),
        (2, "tgt", "missing text (null)"),
    ]
    sources, targets = reversal_pairs(3)
    assert list(task.training_texts(Dataset.from_dict({"src": sources, "tgt": targets}))) == sources + targets
