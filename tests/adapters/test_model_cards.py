"""Model cards tell the truth: the base (a local one by its path) and its license, the data, the pipeline with a
variable named for what it does; after `merge`, a plain transformers model with its base and adapter lineage."""

from __future__ import annotations

import torch
from huggingface_hub import ModelCard

from transfuse.adapters import AdapterArguments, apply_adapter, merge_run, new_module_names, save_for_inference
from transfuse.common.folder import write_model_card

from .builders import load_task_model, sample_inputs, save_backbone


def _card(path):
    card = ModelCard.load(path)
    return card.data, card.text


def test_card_names_a_local_base_its_license_data_and_pipeline(tmp_path):
    base = save_backbone("bert", tmp_path)
    (base / "README.md").write_text("---\nlicense: apache-2.0\n---\n# a base\n")
    run = tmp_path / "tagger"
    run.mkdir()
    write_model_card(
        run,
        task_type="token-classification",
        metrics={"f1": 0.5},
        command="transfuse train ner",
        dataset_name="conll/validation.txt",
        train_dataset="conll/train.txt",
        base_model=str(base),
    )
    data, text = _card(run / "README.md")
    assert data.base_model == str(base.resolve()) and data.license == "apache-2.0"
    assert data.datasets == ["conll/train.txt"] and data.pipeline_tag == "token-classification"
    usage = text.split("## How to use it")[1]
    assert "tagger = pipeline('token-classification'" in usage and "classifier" not in usage


def test_pretraining_card_says_pretrained(tmp_path):
    write_model_card(
        tmp_path,
        task_type="fill-mask",
        metrics={"perplexity": 40.0},
        command="transfuse pretrain",
        dataset_name="wiki.txt",
        pretrained=True,
    )
    data, text = _card(tmp_path / "README.md")
    assert "pretrained on wiki.txt from scratch" in text and "fine-tuned" not in text
    assert "unmasker = pipeline('fill-mask'" in text and data.datasets == ["wiki.txt"]


def test_merged_card_is_a_plain_transformers_model_with_its_lineage(tmp_path):
    base = save_backbone("transfuse-encoder", tmp_path)
    model, info = load_task_model(base, "seq-cls")
    model = apply_adapter(model, AdapterArguments(adapter="lora"), new_module_names(info, model))
    model(**sample_inputs("seq-cls", model)).loss.backward()
    run = tmp_path / "run"
    save_for_inference(model, run, AdapterArguments(adapter="lora"))
    write_model_card(
        run,
        task_type="text-classification",
        metrics={"accuracy": 0.9},
        command="transfuse train",
        dataset_name="sst2/validation.jsonl",
        train_dataset="sst2/train.jsonl",
        base_model=str(base),
        adapter="lora",
    )
    assert _card(run / "README.md")[0].library_name == "peft"
    out = tmp_path / "merged"
    with torch.no_grad():
        merge_run(run, out, command="transfuse merge run --output_dir merged")
    data, text = _card(out / "README.md")
    assert data.library_name == "transformers" and data.base_model == str(base.resolve())
    assert "peft" not in data.tags and {"merged-adapter", "lora"} <= set(data.tags)
    assert data.pipeline_tag == "text-classification" and data.datasets == ["sst2/train.jsonl"]
    assert data.eval_results[0].metric_value == 0.9  # the training results are kept
    lineage = text.split("## Merged adapter")[1]
    assert f"lora adapter trained in `{run}` on the base model `{base.resolve()}`" in lineage
    usage = text.split("## How to use it")[1].split("## ")[0]
    assert f"classifier = pipeline('text-classification', model='{out}')" in usage
    assert "import transfuse" in usage and "load_for_inference" not in usage
