"""SRL end to end on synthetic data: a tiny model learns the rule; predict, the pipeline and CoNLL output agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from peft import AutoPeftModelForTokenClassification
from transformers import (
    AutoModelForTokenClassification,
    BertConfig,
    BertModel,
    BertTokenizerFast,
    DistilBertConfig,
    RobertaConfig,
    pipeline,
)

import transfuse  # noqa: F401  (registers the transfuse model type)
from transfuse.adapters import load_for_inference
from transfuse.tasks import get_task_class
from transfuse.tasks.srl.alignment import FALLBACK_MARKING, INDICATED
from transfuse.tasks.srl.arguments import DEFAULT_MARKING, DEFAULT_TAGGING_HEAD
from transfuse.tasks.srl.data import read_conll
from transfuse.training import check_arguments, parse_arguments, workflow

from .synthetic import FILLERS, NOUNS, VERBS, propositions, raw_sentences

TRAIN_FLAGS = [
    "--preset", "tiny", "--vocab_size", "300", "--tokenizer_kind", "wordpiece", "--max_seq_length", "32",
    "--predicate_marking", "indicator", "--max_steps", "500", "--per_device_train_batch_size", "32",
    "--learning_rate", "5e-3", "--warmup_steps", "10", "--fp32",  # the learning threshold was set in fp32
    "--save_strategy", "no", "--disable_tqdm", "true", "--report_to", "none", "--seed", "0",
]  # fmt: skip


def run(command: str, argv: list[str]):
    args = parse_arguments(get_task_class("srl"), argv, command)
    return getattr(workflow, command)("srl", args, f"transfuse {command} srl")


def write_jsonl(path: Path, rows: dict[str, list]) -> str:
    Dataset.from_dict(rows).to_json(path)
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("srl")
    train = write_jsonl(folder / "train.jsonl", propositions(400, seed=0))
    validation_rows = propositions(40, seed=1)
    validation = write_jsonl(folder / "validation.jsonl", validation_rows)
    results = run("train", ["--train_file", train, "--validation_file", validation, *TRAIN_FLAGS,
                            "--output_dir", str(folder / "run"), "--cache_dir", str(folder / "cache")])  # fmt: skip
    return folder, results, validation_rows


def test_tiny_model_learns_the_word_before_the_predicate(trained) -> None:
    folder, results, _ = trained
    metrics = results["eval"]
    # chance is about one word in seven; 500 steps of the tiny model reach 0.58 (more steps would go higher)
    assert metrics["per_role"]["ARG0"]["f1"] > 0.45
    assert metrics["f1"] > 0.4 and metrics["invalid_sequences"] == 0
    assert metrics["predicate_f1"] > 0.9  # the identifier learned the verbs
    config = json.loads((folder / "run" / "config.json").read_text())
    assert config["srl_predicate_marking"] == "indicator" and config["encoder"]["type_vocab_size"] == 2
    assert config["model_type"] == "predicate_tagger"  # the default head
    assert config["id2label"]["0"] == "O" and "B-ARG0" in config["label2id"]


def test_raw_sentences_predict_equals_pipeline_and_conll(trained) -> None:
    folder, _, validation_rows = trained
    sentences = raw_sentences(validation_rows)[:6]
    (folder / "raw.txt").write_text("\n".join(sentences) + "\n")
    # fp32: predict would run bf16 autocast on a CPU with bf16 matrix units; the pipeline runs fp32
    common = ["--model_name_or_path", str(folder / "run"), "--cache_dir", str(folder / "cache"), "--fp32"]
    predicted = run("predict", [*common, "--test_file", str(folder / "raw.txt"),
                                "--output_file", str(folder / "raw.jsonl")])  # fmt: skip
    assert len(predicted) == len(sentences)
    for sentence, output in zip(sentences, predicted):
        words = sentence.split()
        verbs = [i for i, word in enumerate(words) if word in ("saw", "chased", "bit", "liked", "fed", "hid")]
        assert output["tokens"] == words
        assert [f["predicate_index"] for f in output["frames"]] == verbs  # found, in sentence order
        for found in output["frames"]:
            arg0 = [a for a in found["arguments"] if a["role"] == "ARG0"]
            if found["predicate_index"] > 0 and words[found["predicate_index"] - 1] in found["description"]:
                assert all(a["end"] == found["predicate_index"] for a in arg0)

    tagger = pipeline("semantic-role-labeling", model=str(folder / "run"))
    for sentence, expected in zip(sentences, predicted):
        assert tagger(sentence) == expected, (sentence, expected)

    # rows with their predicate: the pipeline answers as predict does, and the CoNLL output reads back
    given = {key: validation_rows[key][:8] for key in ("tokens", "predicate_index")}
    test_file = write_jsonl(folder / "given.jsonl", given)
    framed = run("predict", [*common, "--test_file", test_file, "--output_file", str(folder / "given.jsonl.out")])
    assert [tagger({"tokens": t, "predicate_index": p}) for t, p in zip(*given.values())] == framed
    run("predict", [*common, "--test_file", test_file, "--output_file", str(folder / "given.conll"),
                    "--output_format", "conll"])  # fmt: skip
    back = read_conll(folder / "given.conll")
    assert [(row["tokens"], row["predicate_index"], row["tags"]) for row in back] == [
        (t, p, out["tags"]) for t, p, out in zip(given["tokens"], given["predicate_index"], framed)
    ]


def test_evaluate_reports_unseen_roles_and_argmax(trained) -> None:
    folder, results, validation_rows = trained
    rows = {key: list(values[:10]) for key, values in validation_rows.items()}
    first_o = rows["tags"][0].index("O")
    rows["tags"][0] = [*rows["tags"][0][:first_o], "B-ARG9", *rows["tags"][0][first_o + 1 :]]  # never trained
    path = write_jsonl(folder / "unseen.jsonl", rows)
    common = ["--model_name_or_path", str(folder / "run"), "--validation_file", path,
              "--cache_dir", str(folder / "cache")]  # fmt: skip
    viterbi = run("evaluate", common)["eval"]
    assert viterbi["unseen_roles"] == {"ARG9": 1}
    assert viterbi["per_role"]["ARG9"]["missed"] == 1 and viterbi["per_role"]["ARG9"]["correct"] == 0
    argmax = run("evaluate", [*common, "--decoding", "argmax"])["eval"]
    assert viterbi["f1"] >= argmax["f1"] - 1e-9
    with pytest.raises(ValueError, match="--predicate_marking pair differs from the model's 'indicator'"):
        run("evaluate", [*common, "--predicate_marking", "pair"])
    with pytest.raises(ValueError, match="--tagging_head token differs from the model's 'predicate' head"):
        run("evaluate", [*common, "--tagging_head", "token"])


@pytest.mark.parametrize(
    ("config", "token_types"),
    [
        (None, True),  # a transfuse model from scratch: built with a token-type table
        (BertConfig(vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=2), True),
        (DistilBertConfig(vocab_size=64, dim=8, n_layers=1, n_heads=2, hidden_dim=16), False),
        (
            RobertaConfig(vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, type_vocab_size=1),
            False,  # roberta-base's config: one token type
        ),
    ],
)
def test_default_marking_follows_the_model_token_types(tmp_path, config, token_types: bool) -> None:
    assert DEFAULT_MARKING in INDICATED and FALLBACK_MARKING not in INDICATED
    model = ["--preset", "tiny"] if config is None else ["--model_name_or_path", str(tmp_path / "model")]
    model += ["--train_file", "train.jsonl", "--output_dir", str(tmp_path / "run")]
    if config is not None:
        config.save_pretrained(tmp_path / "model")
    args = parse_arguments(get_task_class("srl"), model, "train")
    check_arguments(args, "train")
    assert args.task.predicate_marking == (DEFAULT_MARKING if token_types else FALLBACK_MARKING)
    assert args.task.tagging_head == (DEFAULT_TAGGING_HEAD if token_types else "token")
    if not token_types:  # a marking that needs token types is refused, naming the one that works
        for marking in INDICATED:
            chosen = parse_arguments(get_task_class("srl"), [*model, "--predicate_marking", marking], "train")
            with pytest.raises(ValueError, match=f"--predicate_marking {marking} needs a token-type embedding.*pair"):
                check_arguments(chosen, "train")


def tiny_bert(folder: Path) -> str:
    """A 2-layer BERT checkpoint (with its pooler, as BERT checkpoints are saved) and a word-level tokenizer."""
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *NOUNS, *VERBS, *FILLERS]
    BertTokenizerFast(vocab={word: i for i, word in enumerate(words)}).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(words), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32
    )
    BertModel(config).save_pretrained(folder)
    return str(folder)


def test_predicate_head_with_lora_over_a_plain_bert_saves_its_head_and_reloads(tmp_path) -> None:
    """The shipped MiniLM + LoRA recipe in miniature: the head is new, trained in full and saved with the adapter."""
    train = write_jsonl(tmp_path / "train.jsonl", propositions(24, seed=0))
    validation = write_jsonl(tmp_path / "validation.jsonl", propositions(8, seed=1))
    common = ["--validation_file", validation, "--cache_dir", str(tmp_path / "cache"), "--fp32"]
    trained = run("train", ["--model_name_or_path", tiny_bert(tmp_path / "bert"), "--train_file", train, *common,
                            "--tagging_head", "predicate", "--adapter", "lora", "--max_steps", "3",
                            "--per_device_train_batch_size", "8", "--save_strategy", "no", "--disable_tqdm", "true",
                            "--report_to", "none", "--output_dir", str(tmp_path / "run")])  # fmt: skip
    adapter = json.loads((tmp_path / "run" / "adapter_config.json").read_text())
    assert "classifier" in adapter["modules_to_save"] and set(adapter["target_modules"]) == {"query", "value"}
    reloaded = run("evaluate", ["--model_name_or_path", str(tmp_path / "run"), *common])
    for key in ("f1", "precision", "recall", "loss", "predicate_f1"):
        assert reloaded["eval"][key] == pytest.approx(trained["eval"][key], rel=1e-4, abs=1e-6), key
    # peft alone (no transfuse loader) builds the same model from RUN/base: the tagger's config beside BERT's weights
    ours = load_for_inference(tmp_path / "run")
    theirs = AutoPeftModelForTokenClassification.from_pretrained(tmp_path / "run").eval()
    assert type(theirs.get_base_model()).__name__ == "PredicateTaggerForTokenClassification"
    batch = {"input_ids": torch.tensor([[2, 5, 17, 6, 3]]), "token_type_ids": torch.tensor([[0, 0, 1, 0, 0]])}
    with torch.no_grad():
        torch.testing.assert_close(theirs(**batch).logits, ours(**batch).logits)


def test_hidden_layer_head_over_frozen_word_embeddings_saves_and_reloads(tmp_path) -> None:
    """The shipped MiniLM full fine-tuning recipe in miniature: `--classifier_hidden_size` and
    `--freeze_input_embeddings`; the saved model keeps both and evaluates as it did at the end of training."""
    train = write_jsonl(tmp_path / "train.jsonl", propositions(24, seed=0))
    validation = write_jsonl(tmp_path / "validation.jsonl", propositions(8, seed=1))
    common = ["--validation_file", validation, "--cache_dir", str(tmp_path / "cache"), "--fp32"]
    bert = tiny_bert(tmp_path / "bert")
    trained = run("train", ["--model_name_or_path", bert, "--train_file", train, *common, "--classifier_hidden_size",
                            "8", "--freeze_input_embeddings", "true", "--learning_rate", "1e-2", "--max_steps", "3",
                            "--per_device_train_batch_size", "8", "--save_strategy", "no", "--disable_tqdm", "true",
                            "--report_to", "none", "--output_dir", str(tmp_path / "run")])  # fmt: skip
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model_type"] == "predicate_tagger" and config["classifier_hidden_size"] == 8
    saved = AutoModelForTokenClassification.from_pretrained(tmp_path / "run")
    torch.testing.assert_close(
        saved.get_input_embeddings().weight, BertModel.from_pretrained(bert).get_input_embeddings().weight
    )
    reloaded = run("evaluate", ["--model_name_or_path", str(tmp_path / "run"), *common])
    for key in ("f1", "loss", "predicate_f1"):
        assert reloaded["eval"][key] == pytest.approx(trained["eval"][key], rel=1e-4, abs=1e-6), key
    with pytest.raises(ValueError, match="--classifier_hidden_size 16 differs from the model's 8"):
        run("evaluate", ["--model_name_or_path", str(tmp_path / "run"), *common, "--classifier_hidden_size", "16"])


def test_hidden_layer_head_and_frozen_embeddings_are_refused_where_they_do_not_apply(tmp_path) -> None:
    argv = ["--train_file", "train.jsonl", "--output_dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match="--classifier_hidden_size shapes the predicate head; --tagging_head token"):
        parse_arguments(get_task_class("srl"), [*argv, "--tagging_head", "token", "--classifier_hidden_size", "8"])
    args = parse_arguments(
        get_task_class("srl"), [*argv, "--predicate_marking", "markers", "--classifier_hidden_size", "8"], "train"
    )
    with pytest.raises(ValueError, match="this run trains the token head .--predicate_marking markers."):
        check_arguments(args, "train")
    train = write_jsonl(tmp_path / "train.jsonl", propositions(8, seed=0))
    markers = ["--model_name_or_path", tiny_bert(tmp_path / "bert"), "--train_file", train, "--predicate_marking",
               "markers", "--freeze_input_embeddings", "true", "--output_dir", str(tmp_path / "run"),
               "--cache_dir", str(tmp_path / "cache")]  # fmt: skip
    with pytest.raises(ValueError, match=r"--freeze_input_embeddings would leave the rows of the task's new tokens"):
        run("train", markers)


@pytest.mark.parametrize("marking", ["markers", None])
def test_predicate_head_needs_token_types(tmp_path, marking: str | None) -> None:
    argv = ["--train_file", "train.jsonl", "--output_dir", str(tmp_path / "run"), "--tagging_head", "predicate"]
    if marking:  # the markers set no token type to read the predicate from
        with pytest.raises(ValueError, match="--tagging_head predicate reads the predicate from its token types"):
            parse_arguments(get_task_class("srl"), [*argv, "--predicate_marking", marking], "train")
        return
    RobertaConfig(
        vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, type_vocab_size=1
    ).save_pretrained(tmp_path / "roberta")
    args = parse_arguments(get_task_class("srl"), [*argv, "--model_name_or_path", str(tmp_path / "roberta")], "train")
    with pytest.raises(ValueError, match="has no token-type embedding; use --tagging_head token"):
        check_arguments(args, "train")
