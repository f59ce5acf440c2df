"""`transfuse tokenizer train` and `transfuse pretrain` from the command line: every tokenizer kind and text
source, the shipped configs, other model families through `--config_name`, streaming, and each bad input
stopping with one clear message before any training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer, BertConfig, GPT2Config

from transfuse import TransfuseForCausalLM, get_preset
from transfuse.cli.main import main
from transfuse.pretraining import parse_pretraining_arguments
from transfuse.tokenization import KINDS

from .helpers import documents, pretrain_argv

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "pretraining").glob("*.yaml"))


@pytest.mark.parametrize("kind", KINDS)
def test_tokenizer_train_from_files_for_each_kind(kind: str, corpus, tmp_path: Path, capsys) -> None:
    output_dir = tmp_path / kind
    assert (
        main(
            [
                "tokenizer",
                "train",
                "--train_files",
                *corpus["train"],
                "--tokenizer_kind",
                kind,
                "--vocab_size",
                "300",
                "--output_dir",
                str(output_dir),
            ]
        )
        == 0
    )
    assert f"{kind} tokenizer" in capsys.readouterr().out
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    assert len(tokenizer) <= 300
    assert [
        tokenizer.pad_token_id,
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
        tokenizer.mask_token_id,
    ] == [0, 2, 3, 4]
    assert (
        tokenizer.decode(tokenizer("the cat sees a blue car")["input_ids"], skip_special_tokens=True)
        == "the cat sees a blue car"
    )
    # a second run into the same folder refuses without --overwrite_output_dir
    assert main(["tokenizer", "train", "--train_files", *corpus["train"], "--output_dir", str(output_dir)]) == 2
    assert "--overwrite_output_dir" in capsys.readouterr().err


def test_tokenizer_train_from_local_and_hub_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = documents(40)
    DatasetDict({"train": Dataset.from_dict({"story": texts})}).save_to_disk(tmp_path / "local")
    assert (
        main(
            [
                "tokenizer",
                "train",
                "--dataset_name",
                str(tmp_path / "local"),
                "--text_column",
                "story",
                "--vocab_size",
                "300",
                "--pad_token",
                "[PAD]",
                "--output_dir",
                str(tmp_path / "from_local"),
            ]
        )
        == 0
    )
    assert AutoTokenizer.from_pretrained(tmp_path / "from_local").pad_token == "[PAD]"

    monkeypatch.setattr(
        "datasets.load_dataset",
        lambda name, config, streaming, cache_dir: DatasetDict({"train": Dataset.from_dict({"text": texts})}),
    )
    assert (
        main(
            [
                "tokenizer",
                "train",
                "--dataset_name",
                "someone/stories",
                "--tokenizer_kind",
                "wordpiece",
                "--vocab_size",
                "300",
                "--output_dir",
                str(tmp_path / "from_hub"),
            ]
        )
        == 0
    )
    assert "feels" in AutoTokenizer.from_pretrained(tmp_path / "from_hub").get_vocab()


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_shipped_configs_parse(config: Path) -> None:
    header = config.read_text().splitlines()[:8]
    assert any(f"transfuse pretrain configs/pretraining/{config.name}" in line for line in header)
    run = parse_pretraining_arguments([str(config), "--max_steps", "7"])
    assert run.model.architecture in config.stem.replace("_", "-") and run.training.max_steps == 7
    assert run.corpus.train_files and run.corpus.validation_files


@pytest.mark.parametrize("config_class", [GPT2Config, BertConfig], ids=["gpt2", "bert"])
def test_any_model_family_pretrains_through_config_name(config_class, tokenizer_dir, corpus, tmp_path) -> None:
    """The HF peers of the benchmark go through the same pipeline: GPT-2 as a decoder, BERT as an encoder."""
    if config_class is GPT2Config:
        architecture, config = "decoder", GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=64)
    else:
        architecture = "encoder"
        config = BertConfig(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    config.save_pretrained(tmp_path / "config")
    argv = pretrain_argv(
        architecture,
        tokenizer_dir,
        corpus["train"],
        corpus["validation"],
        tmp_path / "run",
        "--max_steps",
        "2",
    )
    argv[argv.index("--preset") : argv.index("--preset") + 2] = ["--config_name", str(tmp_path / "config")]
    assert main(argv) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model_type"] == config.model_type and saved["vocab_size"] == len(
        AutoTokenizer.from_pretrained(tokenizer_dir)
    )


def test_streaming_from_a_local_dataset_with_a_validation_split(tokenizer_dir, tmp_path: Path) -> None:
    DatasetDict(
        {
            "train": Dataset.from_dict({"text": documents(30, seed=3)}),
            "validation": Dataset.from_dict({"text": documents(5, seed=4)}),
        }
    ).save_to_disk(tmp_path / "local")
    argv = pretrain_argv("decoder", tokenizer_dir, [], [], tmp_path / "run", "--max_steps", "3")
    for flag in ("--train_files", "--validation_files"):
        argv.remove(flag)
    argv += [
        "--dataset_name",
        str(tmp_path / "local"),
        "--validation_split_name",
        "validation",
        "--streaming",
    ]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train"]["epoch"] > 0 and metrics["eval"]["perplexity"] > 1


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_bad_arguments_exit_2_with_the_flag_named(tokenizer_dir, corpus, tmp_path: Path, capsys) -> None:
    base = pretrain_argv("decoder", tokenizer_dir, corpus["train"], corpus["validation"], tmp_path / "run")
    cases = {
        "--streaming reads the corpus lazily": base + ["--streaming", "--max_steps", "-1"],
        "--config_name builds a new model but --model_name_or_path": [a for a in base if a not in ("--preset", "tiny")]
        + ["--config_name", "gpt2", "--model_name_or_path", "x"],
        "--mask_replace_prob + --random_replace_prob": base + ["--mask_replace_prob", "0.95"],
        "exactly one of --train_files": [a for a in base if a != "--train_files" and a not in corpus["train"]],
    }
    for message, argv in cases.items():
        assert main(argv) == 2, message
        assert message in capsys.readouterr().err
    config = tmp_path / "typo.yaml"
    config.write_text("architecture: decoder\nblok_size: 64\n")
    assert main(["pretrain", str(config)]) == 2
    assert "'blok_size' (did you mean 'block_size'?)" in capsys.readouterr().err


def test_bad_input_stops_before_training(tokenizer_dir, corpus, tmp_path: Path, capsys) -> None:
    def pretrain(train_files: list[str], *extra: str, output: str = "run") -> str:
        argv = pretrain_argv("decoder", tokenizer_dir, train_files, corpus["validation"], tmp_path / output, *extra)
        argv = [a for a in argv if a not in ("--preset", "tiny")] if "--model_name_or_path" in extra else argv
        assert main(argv) == 2
        assert not (tmp_path / output / "model.safetensors").exists()
        return capsys.readouterr().err

    latin1 = _write(tmp_path / "latin1.txt", b"the cat sees the river and feels caf\xe9 .\n")
    assert "latin1.txt' is not valid UTF-8: first bad byte 0xe9 at byte offset 36" in pretrain([latin1])
    empty = _write(tmp_path / "empty.txt", b"\n\n")
    assert "empty.txt' is empty" in pretrain([*corpus["train"], empty])
    short = _write(tmp_path / "short.txt", b"the cat sees the river .\n")
    assert "less than one block of --block_size 32" in pretrain([short])

    assert "--block_size 32 is longer than the model's 16 positions" in pretrain(
        corpus["train"], "--config_overrides", "max_position_embeddings=16"
    )

    checkpoint = tmp_path / "other_vocab"
    TransfuseForCausalLM(get_preset("tiny", "decoder", vocab_size=100)).save_pretrained(checkpoint)
    err = pretrain(corpus["train"], "--model_name_or_path", str(checkpoint), output="continued")
    assert "the tokenizer has 320 tokens but the model's embedding has 100 rows" in err

    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "metrics.json").write_text("{}")
    assert "already holds a finished run" in pretrain(corpus["train"], output="done")
