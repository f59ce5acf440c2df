"""QLoRA on CPU: 4-bit and 8-bit bases train with falling loss, heads stay float, merging reports its drift.

Models are tiny but 64 wide: bitsandbytes' CPU 4-bit kernel needs in_features % 64 == 0.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, BertConfig, BertModel

from transfuse.adapters import (
    AdapterArguments,
    apply_adapter,
    is_quantized,
    load_for_inference,
    merge_run,
    new_module_names,
    quantization_kwargs,
    save_for_inference,
)
from transfuse.adapters.quantization import require_bitsandbytes
from transfuse.modeling import PredicateTaggerForTokenClassification

from .builders import HEADS, VOCAB, sample_inputs, save_backbone

pytest.importorskip("bitsandbytes")


def _load_quantized(path, head, args):
    auto_class, kwargs = HEADS[head]
    torch.manual_seed(1)
    model, info = auto_class.from_pretrained(
        path, output_loading_info=True, **kwargs, **quantization_kwargs(args, auto_class, str(path), **kwargs)
    )
    return model, new_module_names(info, model)


def _train(model, inputs, steps: int) -> list[float]:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("quantization,layer_class", [("4bit", "Linear4bit"), ("8bit", "Linear8bitLt")])
def test_qlora_trains_with_float_heads_and_merges_with_reported_drift(quantization, layer_class, tmp_path):
    path = save_backbone("transfuse-encoder64", tmp_path)
    args = AdapterArguments(adapter="lora", quantization=quantization, llm_int8_skip_modules=["fc2"])
    model, new_modules = _load_quantized(path, "seq-cls", args)
    assert new_modules == ["classifier", "dense"]
    layers = dict(model.named_modules())
    assert type(layers["model.encoder.layers.0.self_attn.q_proj"]).__name__ == layer_class
    for name in ("classifier", "dense", "model.encoder.layers.0.fc2"):  # heads, plus the user's own skip list
        assert type(layers[name]) is nn.Linear and layers[name].weight.dtype == torch.float32

    model = apply_adapter(model, args, new_modules)
    losses = _train(model, sample_inputs("seq-cls", model), steps=12)
    assert losses[-1] < 0.5 * losses[0], losses
    assert model.base_model.model.classifier.modules_to_save["default"].weight.dtype == torch.float32

    save_for_inference(model, tmp_path / "run", args)
    assert is_quantized(load_for_inference(tmp_path / "run"))  # served on the base it was trained on
    report = merge_run(tmp_path / "run", tmp_path / "merged")
    assert report.quantization == quantization and 0 <= report.max_logit_drift < 0.05
    merged = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged")
    assert not is_quantized(merged) and not (tmp_path / "merged" / "adapter_config.json").exists()
    card = (tmp_path / "merged" / "README.md").read_text()
    assert "max abs logit drift" in card and f"{report.max_logit_drift:.3g}" in card


def test_qlora_causal_lm_keeps_output_layer_float(tmp_path):
    path = save_backbone("transfuse-decoder64", tmp_path)
    args = AdapterArguments(adapter="lora", quantization="4bit", bnb_4bit_compute_dtype="bfloat16")
    model, new_modules = _load_quantized(path, "causal-lm", args)
    assert type(model.lm_head) is nn.Linear and new_modules == []
    model = apply_adapter(model, args, new_modules)
    losses = _train(model, sample_inputs("causal-lm", model), steps=6)
    assert losses[-1] < losses[0], losses


def test_qlora_predicate_tagger_quantizes_the_encoder_and_keeps_its_head_float(tmp_path):
    """SRL's predicate-aware head over a plain BERT: the encoder loads in 4 bit, the new head in float."""
    sizes = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "num_hidden_layers": 2}
    BertModel(BertConfig(vocab_size=VOCAB, hidden_dropout_prob=0.0, **sizes)).save_pretrained(tmp_path / "bert")
    args = AdapterArguments(adapter="lora", quantization="4bit")
    config = AutoConfig.from_pretrained(tmp_path / "bert", num_labels=4)
    model, info = PredicateTaggerForTokenClassification.from_pretrained(
        tmp_path / "bert",
        config=config,
        output_loading_info=True,
        **quantization_kwargs(args, PredicateTaggerForTokenClassification, config),
    )
    assert is_quantized(model) and model.is_quantized  # the encoder's quantizer, taken over by the model
    assert new_module_names(info, model) == ["classifier"]
    assert type(model.encoder.encoder.layer[0].attention.self.query).__name__ == "Linear4bit"
    assert type(model.classifier) is nn.Linear and model.classifier.weight.dtype == torch.float32
    model = apply_adapter(model, args, ["classifier"])
    inputs = sample_inputs("token-cls", model)
    inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
    inputs["token_type_ids"][:, 2] = 1  # the predicate
    losses = _train(model, inputs, steps=12)
    assert losses[-1] < 0.5 * losses[0], losses


def test_missing_bitsandbytes_says_what_to_do(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else real_find_spec(name, *a)
    )
    with pytest.raises(RuntimeError, match="pip install"):
        require_bitsandbytes("4bit")
