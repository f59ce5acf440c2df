"""The Task hooks the model builder reads: `architectures` (default and refusal of `--architecture`),
`max_positions` (the position table of a model from scratch) and `added_tokens` (special tokens in a trained or
a pretrained tokenizer, embeddings resized, saved so that the run folder reloads, with and without an adapter).
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from transfuse.adapters import load_for_inference, save_for_inference
from transfuse.modeling import TransfuseForSequenceClassification, get_preset
from transfuse.tasks.classification import ClassificationTask
from transfuse.tokenization import train_tokenizer
from transfuse.training import check_arguments, parse_arguments
from transfuse.training.models import load_for_training

MARKERS = ["<p>", "</p>"]
TEXTS = [f"the {word} was {mood}" for word in ("film", "meal", "plot") for mood in ("good", "bad", "fine")] * 4


class MarkedTask(ClassificationTask):
    """Classification that marks a span with two special tokens and only runs on encoder-decoders."""

    name = "marked"
    architectures = ("encoder-decoder",)

    def added_tokens(self) -> list[str]:
        return list(MARKERS)

    def max_positions(self) -> int:
        return 100  # more than the tiny preset's 64


def _load(argv: list[str]):
    args = parse_arguments(MarkedTask, [*argv, "--output_dir", "unused"])
    task = MarkedTask(args.task, max_seq_length=32)
    task.load_from_config(type("Config", (), {"problem_type": None, "num_labels": 2, "id2label": {0: "a", 1: "b"}}))
    return args, task, load_for_training(task, args.model, args.adapter, TEXTS)


def _marker_ids(tokenizer) -> list[int]:
    ids = tokenizer("the <p> film </p> was good")["input_ids"]
    markers = tokenizer.convert_tokens_to_ids(MARKERS)
    assert all(marker in ids for marker in markers) and len(set(markers)) == 2
    return markers


def test_the_architecture_defaults_to_the_tasks_first_and_others_are_refused():
    args = parse_arguments(MarkedTask, ["--train_file", "x.jsonl", "--output_dir", "out"])
    assert args.model.architecture == "encoder-decoder" and args.task_class is MarkedTask
    flags = ["--train_file", "x.jsonl", "--output_dir", "out", "--architecture", "encoder"]
    wrong = parse_arguments(MarkedTask, flags)
    with pytest.raises(
        ValueError,
        match=r"--architecture encoder does not suit the marked task; choose one of "
        r"encoder-decoder",
    ):
        check_arguments(wrong, "train")
    classification = parse_arguments(ClassificationTask, ["--architecture", "decoder"])
    assert classification.model.architecture == "decoder"  # classification takes all three


def test_from_scratch_the_task_shapes_the_model_and_its_tokens_survive_a_reload(tmp_path):
    _, _, loaded = _load(["--preset", "tiny", "--vocab_size", "300"])
    config = loaded.model.config
    assert config.architecture == "encoder-decoder" and config.max_position_embeddings == 100
    assert config.vocab_size == len(loaded.tokenizer)
    markers = _marker_ids(loaded.tokenizer)
    loaded.tokenizer.save_pretrained(tmp_path)
    assert _marker_ids(AutoTokenizer.from_pretrained(tmp_path)) == markers


@pytest.fixture
def pretrained(tmp_path):
    """A saved tiny transfuse encoder-decoder with a tokenizer that lacks the markers."""
    tokenizer = train_tokenizer(TEXTS, vocab_size=300, show_progress=False)
    config = get_preset("tiny", "encoder-decoder", vocab_size=len(tokenizer), num_labels=2)
    torch.manual_seed(0)
    TransfuseForSequenceClassification(config).save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    return tmp_path / "base", len(tokenizer)


@pytest.mark.parametrize("adapter", ["none", "lora"])
def test_a_pretrained_model_grows_its_embeddings_for_the_tokens_and_reloads(pretrained, tmp_path, adapter):
    base, base_vocab = pretrained
    args, _, loaded = _load(["--model_name_or_path", str(base), "--adapter", adapter])
    markers = _marker_ids(loaded.tokenizer)
    assert len(loaded.tokenizer) == base_vocab + 2 == loaded.model.get_input_embeddings().num_embeddings
    if adapter == "lora":  # the new rows start random: the whole embedding is trained and saved with the adapter
        assert any("embed_tokens" in name for name in loaded.model.peft_config["default"].modules_to_save)
        with torch.no_grad():
            loaded.model.get_input_embeddings().weight[markers] += 1.0  # what training would change
    run = tmp_path / "run"
    save_for_inference(loaded.model, run, args.adapter)
    loaded.tokenizer.save_pretrained(run)
    reloaded, tokenizer = load_for_inference(run), AutoTokenizer.from_pretrained(run)
    assert _marker_ids(tokenizer) == markers
    inputs = tokenizer(["the <p> film </p> was good"], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, loaded.model.eval()(**inputs).logits)
