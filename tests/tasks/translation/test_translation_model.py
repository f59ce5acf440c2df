"""A tiny encoder-decoder learns the synthetic reversal task through the task's features and Seq2SeqTrainer; the
trained model then checks KV-cache equality, the attention plot, the pipeline and label smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForSeq2SeqLM, Seq2SeqTrainer, Seq2SeqTrainingArguments, pipeline

from transfuse.tasks.translation.attention import cross_attention, plot_cross_attention

from .conftest import make_task, reversal_pairs, tiny_config


def trainer_for(task, model, tokenizer, output_dir, train=None, **overrides):
    options = dict(
        output_dir=str(output_dir),
        max_steps=300,
        per_device_train_batch_size=32,
        learning_rate=3e-3,
        warmup_steps=20,
        report_to=[],
        logging_steps=100,
        use_cpu=True,
        save_strategy="no",
        predict_with_generate=True,
        per_device_eval_batch_size=64,
        label_smoothing_factor=0.1,
        disable_tqdm=True,
    )
    args = Seq2SeqTrainingArguments(**{**options, **overrides})
    return Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        data_collator=task.data_collator(tokenizer, model),
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_tokenizer):
    """The reversal task learned from 2,000 pairs (about 10 s on one core), saved as a run folder."""
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer
    task = make_task()
    task.fit(None)
    config = tiny_config(
        tokenizer, hidden_size=64, intermediate_size=128, num_attention_heads=4, **task.config_updates()
    )
    model = AutoModelForSeq2SeqLM.from_config(config)
    task.attach(tokenizer, model.config)
    sources, targets = reversal_pairs(2000)
    train = task.preprocess(Dataset.from_dict({"src": sources, "tgt": targets}), tokenizer, "train")
    run = tmp_path_factory.mktemp("run")
    trainer = trainer_for(task, model, tokenizer, run, train)
    trainer.train()
    trainer.save_model()
    model.eval()
    return {"task": task, "model": model, "tokenizer": tokenizer, "trainer": trainer, "run": run}


def predict_texts(trained, sources):
    task, trainer = trained["task"], trained["trainer"]
    examples = Dataset.from_dict({"src": sources})
    features = task.preprocess(examples, trained["tokenizer"], "test")
    output = trainer.predict(features)
    return [row["translation"] for row in task.postprocess(output.predictions, features, examples)]


def test_a_tiny_model_learns_to_reverse(trained):
    task = trained["task"]
    sources, targets = reversal_pairs(100, seed=1)
    examples = Dataset.from_dict({"src": sources, "tgt": targets})
    features = task.preprocess(examples, trained["tokenizer"], "validation")
    output = trained["trainer"].predict(features)
    metrics = task.compute_metrics(task.postprocess(output.predictions, features, examples), examples)
    assert metrics["bleu"] > 90, metrics
    assert trained["model"].generation_config.num_beams == 4  # the task's default for a model it trains


@pytest.mark.parametrize("num_beams", [1, 4])
def test_generation_is_the_same_with_and_without_the_kv_cache(trained, num_beams):
    tokenizer, model = trained["tokenizer"], trained["model"]
    sources, _ = reversal_pairs(6, seed=2)
    batch = tokenizer(sources, return_tensors="pt", padding=True)
    with torch.no_grad():
        cached = model.generate(**batch, num_beams=num_beams, max_new_tokens=12, use_cache=True)
        uncached = model.generate(**batch, num_beams=num_beams, max_new_tokens=12, use_cache=False)
    assert torch.equal(cached, uncached)


def test_pipeline_gives_what_predict_writes(trained):
    sources, _ = reversal_pairs(8, seed=3)
    translator = pipeline("translation", model=str(trained["run"]))  # the run folder alone
    assert [row["translation_text"] for row in translator(sources)] == predict_texts(trained, sources)


def test_attention_plot_has_one_row_per_generated_token_and_one_column_per_source_token(trained, tmp_path):
    tokenizer, model = trained["tokenizer"], trained["model"]
    sources = ["a b c", "d e f g h"]
    alignments = cross_attention(model, tokenizer, sources, max_source_length=32, num_beams=1)
    for source, alignment in zip(sources, alignments):
        assert alignment.source_tokens == ["<s>", *source.split(), "</s>"]
        assert alignment.matrix.shape == (len(alignment.target_tokens), len(alignment.source_tokens))
        np.testing.assert_allclose(alignment.matrix.sum(axis=1), 1.0, rtol=1e-4)
        assert " ".join(alignment.target_tokens[1:-1]) == " ".join(reversed(source.upper().split()))
    path = plot_cross_attention(alignments, tmp_path / "attention.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_label_smoothing_changes_the_training_loss_as_defined(trained, tmp_path):
    task, tokenizer, model = trained["task"], trained["tokenizer"], trained["model"]
    sources, targets = reversal_pairs(4, seed=4)
    features = task.preprocess(Dataset.from_dict({"src": sources, "tgt": targets}), tokenizer, "train")
    batch = task.data_collator(tokenizer, model)([features[i] for i in range(4)])
    batch.pop("example_index")
    losses = {}
    for epsilon in (0.0, 0.1):
        trainer = trainer_for(task, model, tokenizer, tmp_path, label_smoothing_factor=epsilon)
        with torch.no_grad():
            losses[epsilon] = trainer.compute_loss(model, dict(batch)).item()
    with torch.no_grad():
        logits = model(**{key: value for key, value in batch.items() if key != "labels"}).logits
    log_probs = torch.log_softmax(logits, dim=-1)
    mask = batch["labels"] != -100
    nll = -log_probs.gather(-1, batch["labels"].clamp(min=0).unsqueeze(-1)).squeeze(-1)[mask].mean()
    uniform = -log_probs.sum(-1)[mask].mean() / logits.shape[-1]
    assert losses[0.0] == pytest.approx(nll.item(), rel=1e-4)
    assert losses[0.1] == pytest.approx(0.9 * nll.item() + 0.1 * uniform.item(), rel=1e-4)
