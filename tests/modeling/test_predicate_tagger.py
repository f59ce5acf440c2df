"""`PredicateTaggerForTokenClassification`: the head reads [word ; predicate], over a BERT or a transfuse encoder.

The logits are checked against the formula computed by hand from the encoder's own output; a plain encoder
checkpoint loads under a new head with its weights intact; a saved tagger reloads through
`AutoModelForTokenClassification` with equal logits, ships its code for `trust_remote_code`, and keeps no pooler.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForTokenClassification, BertConfig, BertForMaskedLM, BertModel

from transfuse.modeling import PredicateTaggerConfig, PredicateTaggerForTokenClassification, TransfuseConfig

LABELS = {0: "O", 1: "B-V", 2: "B-ARG0"}


def bert_config(**overrides) -> BertConfig:
    settings = {"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2}
    return BertConfig(**{"intermediate_size": 32, **settings, **overrides})


def inputs() -> dict[str, torch.Tensor]:
    ids = torch.tensor([[2, 7, 8, 9, 10, 3], [2, 11, 12, 3, 0, 0]])
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    types[0, 2:4] = 1  # row 0: the predicate is two sub-words; row 1: nothing marked (the identifier's input)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def tagger(encoder_config, seed: int = 0) -> PredicateTaggerForTokenClassification:
    torch.manual_seed(seed)
    config = PredicateTaggerConfig(encoder=encoder_config, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    return PredicateTaggerForTokenClassification(config).eval()


@pytest.mark.parametrize(
    "encoder_config",
    [bert_config(), TransfuseConfig(vocab_size=50, hidden_size=16, num_attention_heads=2, type_vocab_size=2)],
    ids=["bert", "transfuse"],
)
def test_logits_join_each_word_with_the_mean_of_the_marked_words(encoder_config) -> None:
    model, batch = tagger(encoder_config), inputs()
    with torch.no_grad():
        out = model(**batch, labels=torch.tensor([[-100, 0, 1, -100, 2, -100], [-100, 0, 1, -100, -100, -100]]))
        hidden = model.encoder(**batch).last_hidden_state  # (B, T, H)
    predicate = torch.stack([hidden[0, 2:4].mean(0), torch.zeros(hidden.shape[-1])])  # row 1: nothing marked
    joined = torch.cat([hidden, predicate[:, None].expand_as(hidden)], dim=-1)  # (B, T, 2H)
    torch.testing.assert_close(out.logits, model.classifier(joined))
    assert out.logits.shape == (2, 6, 3) and out.loss.item() > 0
    assert "pooler" not in "".join(model.state_dict())


def test_a_plain_encoder_checkpoint_loads_under_a_new_head(tmp_path) -> None:
    torch.manual_seed(0)
    encoder = BertModel(bert_config()).eval()  # with a pooler, as BERT checkpoints are saved
    encoder.save_pretrained(tmp_path / "bert")
    config = bert_config(num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    model, info = PredicateTaggerForTokenClassification.from_pretrained(
        tmp_path / "bert", config=config, output_loading_info=True
    )
    assert info["missing_keys"] == ["classifier.weight", "classifier.bias"]
    assert model.config.id2label == LABELS and model.classifier.out_features == 3
    assert model.config.pad_token_id == 0  # the encoder's, which the Trainer compares with the tokenizer's
    for name, value in model.encoder.state_dict().items():
        torch.testing.assert_close(value, encoder.state_dict()[name], msg=name)
    assert model.encoder.pooler is None


@pytest.mark.parametrize("checkpoint_class", [BertModel, BertForMaskedLM], ids=["bare", "with_head"])
def test_a_tagger_config_beside_plain_encoder_weights_loads_those_weights(tmp_path, checkpoint_class) -> None:
    """An adapter run's `base/` folder: the tagger's config, the base checkpoint's weights (keys with or without
    their `bert.` prefix)."""
    torch.manual_seed(0)
    checkpoint = checkpoint_class(bert_config()).eval()
    checkpoint.save_pretrained(tmp_path / "base")
    PredicateTaggerConfig(encoder=bert_config(), id2label=LABELS).save_pretrained(tmp_path / "base")
    model, info = AutoModelForTokenClassification.from_pretrained(tmp_path / "base", output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    expected = checkpoint.state_dict() if checkpoint_class is BertModel else checkpoint.bert.state_dict()
    for name, value in model.encoder.state_dict().items():
        torch.testing.assert_close(value, expected[name], msg=name)


def test_saved_tagger_reloads_through_the_auto_class_with_equal_logits(tmp_path) -> None:
    model, batch = tagger(bert_config(), seed=1), inputs()
    model.save_pretrained(tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model_type"] == "predicate_tagger" and saved["encoder"]["model_type"] == "bert"
    assert saved["auto_map"]["AutoModelForTokenClassification"].startswith("predicate_tagger.")
    shipped = (tmp_path / "run" / "predicate_tagger.py").read_text()  # the code for trust_remote_code
    imported = {
        line.split()[1].split(".")[0] for line in shipped.splitlines() if line.startswith(("import ", "from "))
    }
    assert imported <= {"__future__", "typing", "torch", "transformers"}
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path / "run").eval()
    assert isinstance(reloaded, PredicateTaggerForTokenClassification)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, model(**batch).logits)


def test_a_hidden_layer_classifier_loads_new_over_a_plain_encoder_and_reloads_with_equal_logits(tmp_path) -> None:
    """`classifier_hidden_size` (taken over from the encoder's config, where the SRL task writes it): linear,
    GELU, dropout, linear over [word ; predicate]; its four tensors are the new head, saved and reloaded."""
    torch.manual_seed(0)
    BertModel(bert_config()).save_pretrained(tmp_path / "bert")
    config = bert_config(num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
    config.classifier_hidden_size = 8
    model, info = PredicateTaggerForTokenClassification.from_pretrained(
        tmp_path / "bert", config=config, output_loading_info=True
    )
    model.eval()
    assert sorted(info["missing_keys"]) == [f"classifier.{i}.{p}" for i in (0, 3) for p in ("bias", "weight")]
    assert model.config.classifier_hidden_size == 8
    first, last = model.classifier[0], model.classifier[3]
    assert (first.in_features, first.out_features, last.out_features) == (32, 8, 3)
    assert first.bias.abs().sum() == 0 and 0 < first.weight.std() < 0.05  # initialised as the linear head is
    batch = inputs()
    with torch.no_grad():
        logits = model(**batch).logits
        hidden = model.encoder(**batch).last_hidden_state  # (B, T, H)
    predicate = torch.stack([hidden[0, 2:4].mean(0), torch.zeros(hidden.shape[-1])])
    joined = torch.cat([hidden, predicate[:, None].expand_as(hidden)], dim=-1)  # (B, T, 2H)
    torch.testing.assert_close(logits, last(torch.nn.functional.gelu(first(joined))))
    model.save_pretrained(tmp_path / "run")
    reloaded = AutoModelForTokenClassification.from_pretrained(tmp_path / "run").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, logits)


def test_activation_checkpointing_replays_the_encoder_with_the_same_gradients() -> None:
    model, batch = tagger(bert_config()), inputs()
    labels = torch.tensor([[-100, 0, 1, 1, 2, -100], [-100, 0, 1, -100, -100, -100]])

    def gradients() -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)  # the same dropout masks; checkpointing replays the RNG state
        model(**batch, labels=labels).loss.backward()
        return {name: p.grad.clone() for name, p in model.named_parameters()}

    model.train()
    expected = gradients()
    model.activation_checkpointing_enable({"use_reentrant": False})
    calls = []
    model.encoder.encoder.layer[0].intermediate.dense.register_forward_hook(lambda *args: calls.append(1))
    actual = gradients()
    assert len(calls) == 2, "a checkpointed encoder layer should run again during backward"
    assert expected.keys() == actual.keys() and all(g.abs().sum() > 0 for g in expected.values())
    for name, gradient in expected.items():
        torch.testing.assert_close(actual[name], gradient, atol=1e-6, rtol=1e-5, msg=name)
