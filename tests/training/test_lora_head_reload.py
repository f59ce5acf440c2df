"""A LoRA run saves its newly initialised classification head with the adapter: reloading the adapter alone
onto
the pretrained base reproduces the trained model's logits exactly."""

from __future__ import annotations

import torch
from peft import PeftModel

from transfuse.adapters import load_for_inference, save_for_inference
from transfuse.adapters.callbacks import adapter_callbacks
from transfuse.tasks.classification import ClassificationTask
from transfuse.training import build_trainer, load_for_training, parse_arguments, prepare_data
from transfuse.training.workflow import make_task


def test_adapter_reload_reproduces_logits_with_the_trained_head(sentiment_rows, write_data, bert_base, tmp_path):
    out = tmp_path / "lora"
    args = parse_arguments(
        ClassificationTask,
        [
            "--train_file",
            write_data("train.jsonl", sentiment_rows(32, 1)),
            "--model_name_or_path",
            bert_base,
            "--adapter",
            "lora",
            "--lora_r",
            "4",
            "--max_steps",
            "3",
            "--learning_rate",
            "5e-2",
            "--per_device_train_batch_size",
            "8",
            "--save_strategy",
            "no",
            "--disable_tqdm",
            "true",
            "--output_dir",
            str(out),
            "--cache_dir",
            str(tmp_path / "cache"),
        ],
    )
    task = make_task("classification", args)
    data = prepare_data(task, args, ["train"])
    loaded = load_for_training(task, args.model, args.adapter, task.training_texts(data.examples["train"]))
    assert isinstance(loaded.model, PeftModel) and loaded.new_modules == ["classifier"]
    initial_head = loaded.model.base_model.model.classifier.modules_to_save["default"].weight.detach().clone()
    features = task.preprocess(data.examples["train"], loaded.tokenizer, "train")
    callbacks = adapter_callbacks(args.adapter)  # as in `transfuse train`: the adapter start check runs first
    trainer = build_trainer(task, loaded.model, loaded.tokenizer, args.training, features, callbacks=callbacks)
    trainer.train()
    trainer.save_model()
    save_for_inference(trainer.model, out, args.adapter)

    trained = trainer.model.eval()
    assert not torch.equal(trained.base_model.model.classifier.modules_to_save["default"].weight, initial_head)
    batch = loaded.tokenizer(["the film was good", "the plot was dull and weak"], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = trained(**batch).logits
        reloaded = load_for_inference(out)
        assert reloaded.config.id2label == {0: "neg", 1: "pos"}
        torch.testing.assert_close(reloaded(**batch).logits, expected, rtol=0, atol=0)
