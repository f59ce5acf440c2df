"""New modules come from the loading report, and quantization never touches them."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, BertConfig, BertModel

from transfuse import TransfuseForSequenceClassification, get_preset
from transfuse.adapters import AdapterArguments, apply_adapter, bnb_config, new_module_names
from transfuse.adapters.heads import overmatched_modules
from transfuse.adapters.quantization import float_module_names

from .builders import load_task_model, save_backbone


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    return tmp_path_factory.mktemp("backbones")


@pytest.mark.parametrize(
    "backbone,head,expected",
    [
        ("transfuse-encoder", "seq-cls", ["classifier", "dense"]),
        ("transfuse-encoder", "qa", ["qa_outputs"]),
        ("bert", "seq-cls", ["classifier"]),  # the pooler is pretrained
        ("bart", "seq-cls", ["classification_head"]),  # the outermost all-new module, whatever it is called
        ("gpt2", "seq-cls", ["score"]),
        ("gpt2", "causal-lm", []),  # the LM head is tied to the pretrained embeddings
    ],
)
def test_new_modules_from_the_loading_report(backbone, head, expected, backbones):
    model, info = load_task_model(save_backbone(backbone, backbones), head)
    assert new_module_names(info, model) == expected
    assert new_module_names(info["missing_keys"], model) == expected  # the key list alone works too


def test_partly_new_module_and_mismatched_head(tmp_path):
    model = TransfuseForSequenceClassification(get_preset("tiny", num_labels=2))
    model.save_pretrained(tmp_path / "two")
    # a checkpoint with another label count: the classifier is re-initialised, the dense pooler is kept
    reloaded, info = AutoModelForSequenceClassification.from_pretrained(
        tmp_path / "two", num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert new_module_names(info, reloaded) == ["classifier"]
    # one missing parameter inside a partly pretrained module names that module only
    assert new_module_names(["model.encoder.layers.0.fc1.bias"], reloaded) == ["model.encoder.layers.0.fc1"]


def test_heads_with_unusual_names_are_trained_and_saved(tmp_path):
    """peft's SEQ_CLS default only knows `classifier`/`score`: transfuse's `dense` pooler would stay random."""
    torch.manual_seed(0)
    path = save_backbone("transfuse-encoder", tmp_path)
    model, info = load_task_model(path, "seq-cls")
    peft_model = apply_adapter(model, AdapterArguments(adapter="lora"), new_module_names(info, model))
    assert {"dense", "classifier"} <= set(peft_model.peft_config["default"].modules_to_save)
    assert peft_model.base_model.model.dense.original_module.weight.requires_grad is False  # kept for merging
    assert all(p.requires_grad for p in peft_model.base_model.model.dense.modules_to_save.parameters())


def test_overmatched_suffix_is_reported():
    bert = BertModel(
        BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )
    assert "encoder.layer.0.attention.output.dense" in overmatched_modules(bert, ["pooler.dense", "dense"])


def test_heads_and_output_layer_kept_in_float_even_with_a_user_skip_list(backbones):
    path = save_backbone("transfuse-encoder64", backbones)
    config = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).config
    heads = float_module_names(AutoModelForSequenceClassification, config)
    assert heads == ["classifier", "dense"]
    lm_config = AutoModelForCausalLM.from_pretrained(save_backbone("transfuse-decoder64", backbones)).config
    assert float_module_names(AutoModelForCausalLM, lm_config) == ["lm_head"]
    args = AdapterArguments(adapter="lora", quantization="8bit", llm_int8_skip_modules=["fc1"])
    skip = bnb_config(args, heads).llm_int8_skip_modules
    assert "fc1" in skip and "(?:classifier)" in skip and "(?:dense)" in skip
    # an exact pattern: BERT's attention.output.dense must still be quantized
    from transformers.quantizers.quantizers_utils import should_convert_module

    assert not should_convert_module("dense", skip)
    assert should_convert_module("bert.encoder.layer.0.attention.output.dense", skip)
