"""Each objective learns on a tiny corpus, and its run folder loads everywhere it should.

One test per architecture (each trains once; xdist spreads them over workers):
* the training loss falls and the validation perplexity is exp(validation loss);
* the run folder holds model + tokenizer + metrics + card + loss curve, and `AutoTokenizer` / `AutoModelFor*`
  load it; every checkpoint (encoder-only and decoder-only included) loads into the sequence-classification,
  token-classification and QA heads with its pretrained weights, and the encoder fine-tunes through
  `transfuse train classification`;
* `--bf16` (autocast on CPU) learns like fp32.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoTokenizer

from transfuse import (
    TransfuseForQuestionAnswering,
    TransfuseForSequenceClassification,
    TransfuseForTokenClassification,
)
from transfuse.cli.main import main

from .helpers import logged_losses, pretrain_argv, write_sentiment

AUTO_CLASSES = {
    "encoder": AutoModelForMaskedLM,
    "decoder": AutoModelForCausalLM,
    "encoder-decoder": AutoModelForSeq2SeqLM,
}


def pretrain(architecture: str, tokenizer_dir: Path, corpus: dict, output_dir: Path, *extra: str) -> dict:
    argv = pretrain_argv(architecture, tokenizer_dir, corpus["train"], corpus["validation"], output_dir, *extra)
    assert main(argv) == 0
    return json.loads((output_dir / "metrics.json").read_text())


def _history(output_dir: Path) -> list[float]:
    return logged_losses(json.loads((output_dir / "trainer_state.json").read_text())["log_history"])


def check_run_folder(architecture: str, output_dir: Path, metrics: dict) -> None:
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    model = AUTO_CLASSES[architecture].from_pretrained(output_dir)
    assert model.config.architecture == architecture and len(tokenizer) == model.config.vocab_size
    assert metrics["eval"]["perplexity"] == pytest.approx(math.exp(metrics["eval"]["loss"]))
    assert metrics["train"]["train_tokens_per_second"] > 0
    card = (output_dir / "README.md").read_text()
    assert "perplexity" in card and "transfuse pretrain --architecture" in card
    assert "pretrained on" in card and "fine-tuned" not in card  # a language model, not a fine-tune
    assert (output_dir / "loss_curve.png").stat().st_size > 0


def check_loss_fell(losses: list[float], vocab_size: int, factor: float) -> None:
    assert losses[0] > 0.9 * math.log(vocab_size)  # starts near chance
    assert losses[-1] < factor * losses[0], losses


def check_loads_into_task_heads(output_dir: Path, architecture: str) -> None:
    """Every understanding head starts from the pretrained backbone (an encoder-decoder's encoder)."""
    stack = "decoder" if architecture == "decoder" else "encoder"
    reference = getattr(AUTO_CLASSES[architecture].from_pretrained(output_dir).model, stack).state_dict()
    for head in (
        TransfuseForSequenceClassification,
        TransfuseForTokenClassification,
        TransfuseForQuestionAnswering,
    ):
        loaded = getattr(head.from_pretrained(output_dir, num_labels=3).model, stack).state_dict()
        for name, weight in reference.items():
            torch.testing.assert_close(loaded[name], weight, msg=f"{head.__name__}: {name}")


def test_encoder_masked_lm_learns_and_fine_tunes_through_classification(tokenizer_dir, corpus, tmp_path) -> None:
    run = tmp_path / "encoder"
    metrics = pretrain("encoder", tokenizer_dir, corpus, run)
    check_run_folder("encoder", run, metrics)
    check_loss_fell(_history(run), len(AutoTokenizer.from_pretrained(run)), factor=0.8)
    check_loads_into_task_heads(run, "encoder")
    assert json.loads((run / "config.json").read_text())["sparse_prediction"]  # masked tokens only reach the vocab

    train_file = write_sentiment(tmp_path / "train.jsonl", 240, seed=5)
    validation_file = write_sentiment(tmp_path / "validation.jsonl", 60, seed=6)
    finetuned = tmp_path / "classifier"
    assert (
        main(
            [
                "train",
                "classification",
                "--model_name_or_path",
                str(run),
                "--train_file",
                train_file,
                "--validation_file",
                validation_file,
                "--max_seq_length",
                "32",
                "--num_train_epochs",
                "3",
                "--per_device_train_batch_size",
                "16",
                "--learning_rate",
                "5e-3",
                "--save_strategy",
                "no",
                "--seed",
                "0",
                "--output_dir",
                str(finetuned),
            ]
        )
        == 0
    )
    accuracy = json.loads((finetuned / "metrics.json").read_text())["eval"]["accuracy"]
    assert accuracy >= 0.8


def test_decoder_causal_lm_learns_in_fp32_and_bf16(tokenizer_dir, corpus, tmp_path) -> None:
    fp32_run, bf16_run = tmp_path / "fp32", tmp_path / "bf16"
    metrics = pretrain("decoder", tokenizer_dir, corpus, fp32_run)
    check_run_folder("decoder", fp32_run, metrics)
    fp32_losses = _history(fp32_run)
    check_loss_fell(fp32_losses, len(AutoTokenizer.from_pretrained(fp32_run)), factor=0.6)
    check_loads_into_task_heads(fp32_run, "decoder")

    bf16_metrics = pretrain("decoder", tokenizer_dir, corpus, bf16_run, "--bf16")
    bf16_losses = _history(bf16_run)
    check_loss_fell(bf16_losses, len(AutoTokenizer.from_pretrained(bf16_run)), factor=0.6)
    # same seed, same batches: the bf16 curve follows the fp32 one within bf16's rounding
    for fp32_loss, bf16_loss in zip(fp32_losses, bf16_losses):
        assert bf16_loss == pytest.approx(fp32_loss, rel=0.05)
    assert bf16_metrics["eval"]["loss"] == pytest.approx(metrics["eval"]["loss"], rel=0.05)


def test_encoder_decoder_text_infilling_learns(tokenizer_dir, corpus, tmp_path) -> None:
    run = tmp_path / "seq2seq"
    metrics = pretrain("encoder-decoder", tokenizer_dir, corpus, run)
    check_run_folder("encoder-decoder", run, metrics)
    check_loss_fell(_history(run), len(AutoTokenizer.from_pretrained(run)), factor=0.6)
    check_loads_into_task_heads(run, "encoder-decoder")


def test_causal_lm_loss_of_a_gpt2_is_the_mean_over_predicted_tokens(tmp_path):
    """The Trainer counts `labels[..., 1:]` only for `loss_type == "ForCausalLM"`; GPT-2's class name gives None,
    which made its loss (T - 1) / T too low. `count_shifted_labels` fixes the count for every decoder."""
    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    from transfuse.pretraining.run import count_shifted_labels

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=8)).eval()
    ids = torch.randint(0, 50, (4, 8))
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    expected = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 50), ids[:, 1:].reshape(-1)).item()
    blocks = Dataset.from_dict({"input_ids": ids.tolist(), "labels": ids.tolist()})
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=4, report_to=[], use_cpu=True)

    count_shifted_labels(model)
    assert Trainer(model=model, args=args, eval_dataset=blocks).evaluate()["eval_loss"] == pytest.approx(expected)
