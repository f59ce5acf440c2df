"""`transfuse merge` and `transfuse adapters check|methods`, called through the `transfuse` dispatcher."""

from __future__ import annotations

import json

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

from transfuse.adapters import (
    AdapterArguments,
    apply_adapter,
    load_for_inference,
    new_module_names,
    save_for_inference,
)
from transfuse.cli.main import main
from transfuse.tokenization import train_tokenizer

from .builders import load_task_model, sample_inputs, save_backbone


def _adapter_run(tmp_path, with_tokenizer: bool = False):
    model, info = load_task_model(save_backbone("transfuse-encoder", tmp_path), "seq-cls")
    model = apply_adapter(model, AdapterArguments(adapter="lora"), new_module_names(info, model))
    inputs = sample_inputs("seq-cls", model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        optimizer.zero_grad()
        model(**inputs).loss.backward()
        optimizer.step()
    run = tmp_path / "run"
    save_for_inference(model, run, AdapterArguments(adapter="lora"))
    if with_tokenizer:
        texts = ["a good film", "a bad film", "good acting", "bad plot"] * 4
        tokenizer: PreTrainedTokenizerFast = train_tokenizer(
            texts, kind="wordpiece", vocab_size=60, min_frequency=1, show_progress=False
        )  # ids < the model vocab (96)
        tokenizer.save_pretrained(run)
    return run, {k: inputs[k] for k in ("input_ids", "attention_mask")}


def test_merge_command_writes_a_plain_model_with_the_drift_in_its_card(tmp_path, capsys):
    run, inputs = _adapter_run(tmp_path, with_tokenizer=True)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"sentence": s}) + "\n" for s in ["a good film", "bad plot", "good"]))
    out = tmp_path / "merged"
    assert (
        main(["merge", str(run), "--output_dir", str(out), "--sample_file", str(samples), "--text_column", "sentence"])
        == 0
    )
    assert "max |logit drift|" in capsys.readouterr().out
    report = json.loads((out / "merge_report.json").read_text())
    assert report["num_samples"] == 3 and report["max_logit_drift"] < 1e-4
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert "transfuse merge" in (out / "README.md").read_text()
    merged = AutoModelForSequenceClassification.from_pretrained(out)  # plain transformers, no peft
    with torch.no_grad():
        torch.testing.assert_close(
            merged(**inputs).logits, load_for_inference(run)(**inputs).logits, atol=1e-5, rtol=0
        )
    # a second merge into the same folder needs --overwrite_output_dir; a bad column lists the real ones
    assert main(["merge", str(run), "--output_dir", str(out)]) == 2
    assert "--overwrite_output_dir" in capsys.readouterr().err
    assert main(["merge", str(run), "--output_dir", str(tmp_path / "m2"), "--sample_file", str(samples)]) == 2
    assert "sentence" in capsys.readouterr().err


def test_merge_refuses_a_full_model(tmp_path, capsys):
    path = save_backbone("transfuse-encoder", tmp_path)
    assert main(["merge", str(path), "--output_dir", str(tmp_path / "out")]) == 2
    assert "adapter_config.json" in capsys.readouterr().err


def test_adapters_check_and_methods(tmp_path, capsys):
    base = save_backbone("bert", tmp_path)
    assert (
        main(
            [
                "adapters",
                "check",
                "--model_name_or_path",
                str(base),
                "--adapter",
                "ia3",
                "--num_labels",
                "3",
                "--seq_length",
                "16",
            ]
        )
        == 0
    )
    assert "trainable params" in capsys.readouterr().out
    run, _ = _adapter_run(tmp_path)
    assert main(["adapters", "check", "--model_name_or_path", str(run)]) == 0
    assert main(["adapters", "check", "--model_name_or_path", str(base)]) == 2
    assert "--adapter" in capsys.readouterr().err
    assert main(["adapters", "methods", "--model_name_or_path", str(base)]) == 0
    listing = capsys.readouterr().out
    assert "lora     query value" in listing and "ia3      key value output.dense" in listing
