"""One tokenizer per language (`--separate_vocabularies`): the options, the run folder (source tokenizer at the
root, target tokenizer in `target_tokenizer/`, a decoder table of the target's size), evaluate / predict / the
pipeline reading outputs with the target tokenizer, training continued from such a run, and a tiny model that
learns the reversal task with two vocabularies."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, pipeline

from transfuse.hub import PushArguments, stage_run
from transfuse.tasks import get_task_class
from transfuse.tasks.translation import TranslationArguments, TranslationTask
from transfuse.tasks.translation.attention import cross_attention
from transfuse.tasks.translation.vocabularies import check_target_tokenizer, target_tokenizer
from transfuse.tokenization import train_tokenizer
from transfuse.training import parse_arguments, workflow

from .conftest import make_task, reversal_pairs, tiny_config
from .test_translation_model import trainer_for

# fp32 (not the bf16 autocast of CPUs with bf16 units) so that the reloaded run's metrics match to the digit;
# wordpiece keeps the two vocabularies apart to the letter: the sources are lower-case, the targets upper-case
FLAGS = ["--source_lang", "src", "--target_lang", "tgt", "--preset", "tiny", "--tokenizer_kind", "wordpiece",
         "--vocab_size", "40", "--separate_vocabularies", "--target_vocab_size", "36", "--max_seq_length", "32",
         "--max_target_length", "12", "--num_beams", "1", "--per_device_train_batch_size", "8",
         "--save_strategy", "no", "--disable_tqdm", "true", "--fp32",
         "--report_to", "none"]  # fmt: skip


def run(command, argv):
    args = parse_arguments(get_task_class("translation"), argv, command)
    return getattr(workflow, command)("translation", args, f"transfuse {command} translation")


def write_split(folder, name, count, seed):
    sources, targets = reversal_pairs(count, seed=seed)
    (folder / f"{name}.src").write_text("\n".join(sources) + "\n")
    (folder / f"{name}.tgt").write_text("\n".join(targets) + "\n")
    return sources


def same_metrics(expected: dict, actual: dict) -> bool:
    numbers = {key for key, value in expected.items() if isinstance(value, float) and "per_second" not in key}
    return all(math.isclose(actual[key], expected[key], rel_tol=1e-3, abs_tol=1e-4) for key in numbers - {"runtime"})


def test_a_run_with_two_vocabularies_reloads_and_decodes_with_the_target_tokenizer(tmp_path):
    write_split(tmp_path, "train", 32, seed=0)
    write_split(tmp_path, "valid", 6, seed=1)
    test_sources = write_split(tmp_path, "test", 5, seed=2)
    out = tmp_path / "run"
    trained = run("train", ["--train_file", str(tmp_path / "train"), "--validation_file", str(tmp_path / "valid"),
                            "--output_dir", str(out), "--max_steps", "3", *FLAGS, "--save_strategy", "steps",
                            "--save_steps", "3", "--attention_plot", "1"])  # fmt: skip

    # the run folder: the source tokenizer at the root, the target one in the subfolder the config names
    source, target = AutoTokenizer.from_pretrained(out), AutoTokenizer.from_pretrained(out / "target_tokenizer")
    assert "a" in source.get_vocab() and "A" not in source.get_vocab()
    assert "A" in target.get_vocab() and "a" not in target.get_vocab()
    config = json.loads((out / "config.json").read_text())
    assert config["translation"]["target_tokenizer"] == "target_tokenizer"
    assert (config["vocab_size"], config["decoder_vocab_size"]) == (len(source), len(target))
    assert AutoTokenizer.from_pretrained(out / "checkpoint-3" / "target_tokenizer").get_vocab() == target.get_vocab()
    assert (out / "attention.png").read_bytes()[:4] == b"\x89PNG"
    weights = load_file(out / "model.safetensors")
    assert weights["model.encoder.embed_tokens.weight"].shape[0] == len(source)
    assert weights["model.decoder.embed_tokens.weight"].shape[0] == len(target)

    # evaluate on the run folder gives the metrics training reported (the training-time --attention_plot is not
    # replayed: evaluate needs no --output_dir); predict == the pipeline
    evaluated = run("evaluate", ["--model_name_or_path", str(out), "--validation_file", str(tmp_path / "valid"),
                                 "--fp32"])  # fmt: skip
    assert same_metrics(trained["eval"], evaluated["eval"]), (trained["eval"], evaluated["eval"])
    rows = run("predict", ["--model_name_or_path", str(out), "--test_file", str(tmp_path / "test.src"), "--fp32",
                           "--output_file", str(tmp_path / "out.jsonl")])  # fmt: skip
    translator = pipeline("translation", model=str(out))
    assert [answer["translation_text"] for answer in translator(test_sources)] == [r["translation"] for r in rows]
    assert translator._targets().name_or_path == str(out / "target_tokenizer")
    assert all(not any(c.islower() for c in row["translation"]) for row in rows), "decoded with the target side"

    # `transfuse push` stages the target tokenizer too: the pushed folder translates as the run does
    staged = tmp_path / "staged"
    stage_run(PushArguments(run_dir=str(out), repo_id="me/reverse"), staged)
    assert AutoTokenizer.from_pretrained(staged / "target_tokenizer").get_vocab() == target.get_vocab()
    pushed = pipeline("translation", model=str(staged))
    assert [answer["translation_text"] for answer in pushed(test_sources)] == [r["translation"] for r in rows]

    # training continued from the run keeps its target tokenizer (and says where it is)
    more = tmp_path / "more"
    flags = [flag for flag in FLAGS if flag not in ("--preset", "tiny", "--separate_vocabularies")]
    flags = [flag for flag in flags if flag not in ("--target_vocab_size", "36", "--vocab_size", "40")]
    run("train", ["--train_file", str(tmp_path / "train"), "--model_name_or_path", str(out), "--output_dir",
                  str(more), "--max_steps", "1", *flags])  # fmt: skip
    assert AutoTokenizer.from_pretrained(more / "target_tokenizer").get_vocab() == target.get_vocab()
    assert json.loads((more / "config.json").read_text())["translation"]["target_tokenizer"] == "target_tokenizer"

    # a copy of the model without its target tokenizer fails to load, naming the folder
    (more / "target_tokenizer" / "tokenizer.json").unlink()
    (more / "target_tokenizer" / "tokenizer_config.json").unlink()
    with pytest.raises(FileNotFoundError, match="target_tokenizer/ folder along with the model"):
        run("predict", ["--model_name_or_path", str(more), "--test_file", str(tmp_path / "test.src"),
                        "--output_file", str(tmp_path / "none.jsonl")])  # fmt: skip


def fake_args(model=None, **options):
    return SimpleNamespace(
        task=TranslationArguments(source_lang="de", target_lang="en", **options),
        model=SimpleNamespace(
            **{
                "from_scratch": True,
                "architecture": None,
                "tokenizer_name": None,
                "tokenizer_kind": "unigram",
                "vocab_size": None,
                "preset": "tiny",
                "model_name_or_path": None,
                **(model or {}),
            }  # fmt: skip
        ),
        training=SimpleNamespace(output_dir="runs/x"),
        run=SimpleNamespace(output_file=None),
    )


def test_options_of_separate_vocabularies():
    args = fake_args(separate_vocabularies=True)
    TranslationTask.check_arguments(args, "train")
    assert (args.task.target_vocab_size, args.task.target_tokenizer_kind) == (512, "unigram")  # the source's
    sized = fake_args({"vocab_size": 1000}, separate_vocabularies=True, target_vocab_size=700)
    TranslationTask.check_arguments(sized, "train")
    assert sized.task.target_vocab_size == 700
    with pytest.raises(ValueError, match="--target_vocab_size 700 sizes the target tokenizer of --separate_vocab"):
        TranslationArguments(target_vocab_size=700)
    with pytest.raises(ValueError, match="--target_vocab_size 0 must be a positive integer"):
        TranslationArguments(separate_vocabularies=True, target_vocab_size=0)
    with pytest.raises(ValueError, match="--tokenizer_name 'tok' gives one tokenizer for both languages"):
        TranslationTask.check_arguments(fake_args({"tokenizer_name": "tok"}, separate_vocabularies=True), "train")
    loaded = {"from_scratch": False, "model_name_or_path": "Helsinki-NLP/opus-mt-de-en"}
    with pytest.raises(ValueError, match="--model_name_or_path 'Helsinki-NLP/opus-mt-de-en' comes with its own"):
        TranslationTask.check_arguments(fake_args(loaded, separate_vocabularies=True), "train")
    TranslationTask.check_arguments(fake_args(separate_vocabularies=True), "predict")  # restored from a run: fine


def test_training_texts_are_the_sources_alone_and_the_target_tokenizer_must_agree(tiny_tokenizer):
    sources, targets = reversal_pairs(3)
    task = make_task(separate_vocabularies=True)
    assert list(task.training_texts(Dataset.from_dict({"src": sources, "tgt": targets}))) == sources
    config = tiny_config(tiny_tokenizer)
    assert target_tokenizer(tiny_tokenizer, config) is tiny_tokenizer  # the config names none: shared
    other = train_tokenizer(targets * 5, kind="wordpiece", vocab_size=40, min_frequency=1, show_progress=False,
                            special_tokens={"pad_token": "[PAD]", "unk_token": "[UNK]", "bos_token": "[CLS]",
                                            "eos_token": "[SEP]", "mask_token": "[MASK]"})  # fmt: skip
    check_target_tokenizer(tiny_tokenizer, other, config)  # same ids for the specials, however spelled
    small = tiny_config(tiny_tokenizer, decoder_vocab_size=8)
    with pytest.raises(ValueError, match=r"target tokenizer has \d+ tokens but the decoder only 8 embeddings"):
        check_target_tokenizer(tiny_tokenizer, other, small)
    other.add_special_tokens({"pad_token": "<p>"})
    with pytest.raises(ValueError, match="give pad_token different ids"):
        check_target_tokenizer(tiny_tokenizer, other, config)


def test_a_tiny_model_learns_to_reverse_with_two_vocabularies(tmp_path):
    """The reversal task (as in test_translation_model) with a target tokenizer of its own; the saved run then
    gives the same translations through the pipeline, and the attention plot labels rows with target tokens."""
    torch.manual_seed(0)
    sources, targets = reversal_pairs(2000)
    task = make_task(separate_vocabularies=True, target_vocab_size=40)
    task.args.target_tokenizer_kind = "wordpiece"
    train = Dataset.from_dict({"src": sources, "tgt": targets})
    task.fit(train)
    source_tokenizer = train_tokenizer(task.training_texts(train), kind="wordpiece", vocab_size=40,
                                       min_frequency=1, show_progress=False)  # fmt: skip
    config = tiny_config(source_tokenizer, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                         **task.config_updates())  # fmt: skip
    assert config.decoder_vocab_size == len(task.own_target_tokenizer)
    model = AutoModelForSeq2SeqLM.from_config(config)
    task.attach(source_tokenizer, model.config)
    trainer = trainer_for(task, model, source_tokenizer, tmp_path, task.preprocess(train, source_tokenizer, "train"))
    for callback in task.callbacks():
        trainer.add_callback(callback)
    trainer.train()
    trainer.save_model()
    model.eval()

    held_out, references = reversal_pairs(100, seed=1)
    examples = Dataset.from_dict({"src": held_out, "tgt": references})
    features = task.preprocess(examples, source_tokenizer, "validation")
    outputs = task.postprocess(trainer.predict(features).predictions, features, examples)
    assert task.compute_metrics(outputs, examples)["bleu"] > 90
    translator = pipeline("translation", model=str(tmp_path))
    assert [a["translation_text"] for a in translator(held_out[:8])] == [o["translation"] for o in outputs[:8]]
    (alignment,) = cross_attention(model, source_tokenizer, ["a b c"], 32, task.own_target_tokenizer, num_beams=1)
    assert alignment.source_tokens == ["<s>", "a", "b", "c", "</s>"]
    assert alignment.target_tokens == ["<s>", "C", "B", "A", "</s>"]
