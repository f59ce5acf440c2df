"""`TransfuseConfig` validation, serialisation and defaults; heads refusing an architecture they cannot run."""

from __future__ import annotations

import json

import pytest
from transformers import AutoConfig, AutoModelForMaskedLM

from transfuse.modeling import (
    TransfuseConfig,
    TransfuseForCausalLM,
    TransfuseForConditionalGeneration,
    TransfuseForMaskedLM,
    get_preset,
)

# (overrides of the tiny encoder preset, text the error must contain: the field, and the allowed values)
INVALID = {
    "heads_do_not_divide_width": ({"hidden_size": 30, "num_attention_heads": 4}, "hidden_size=30"),
    "unknown_architecture": ({"architecture": "decoder-only"}, "architecture='decoder-only'.*'encoder-decoder'"),
    "unknown_position_type": ({"position_embedding_type": "alibi"}, "position_embedding_type='alibi'.*'rotary'"),
    "unknown_activation": ({"hidden_act": "swiglu"}, "hidden_act='swiglu'.*'gelu'"),
    "dropout_of_one": ({"hidden_dropout_prob": 1.0}, r"hidden_dropout_prob=1.0.*\[0, 1\)"),
    "negative_attention_dropout": ({"attention_dropout": -0.1}, "attention_dropout=-0.1"),
    "classifier_dropout_above_one": ({"classifier_dropout": 1.5}, "classifier_dropout=1.5"),
    "pad_id_outside_vocab": ({"pad_token_id": 128}, r"pad_token_id=128 is outside the vocabulary \[0, 128\)"),
    "negative_eos_id": ({"eos_token_id": -1}, "eos_token_id=-1"),
    "decoder_start_outside_vocab": ({"decoder_start_token_id": 999}, "decoder_start_token_id=999"),
    "empty_vocabulary": ({"vocab_size": 0}, "vocab_size=0 must be a positive integer"),
    "no_layers": ({"num_hidden_layers": 0}, "num_hidden_layers=0"),
    "decoder_vocabulary_of_an_encoder": ({"decoder_vocab_size": 64}, "decoder_vocab_size=64 .*architecture='encoder'"),
    "empty_decoder_vocabulary": (
        {"architecture": "encoder-decoder", "decoder_vocab_size": 0},
        "decoder_vocab_size=0 must be a positive integer",
    ),
    "eos_id_outside_the_decoder_vocabulary": (
        {"architecture": "encoder-decoder", "decoder_vocab_size": 3},
        r"eos_token_id=3 is outside the vocabulary \[0, 3\) of decoder_vocab_size",
    ),
    "odd_rotary_head_size": (
        {"hidden_size": 6, "num_attention_heads": 2, "position_embedding_type": "rotary"},
        "even head size",
    ),
    "odd_sinusoidal_width": (
        {"hidden_size": 3, "num_attention_heads": 1, "position_embedding_type": "sinusoidal"},
        "even hidden_size",
    ),
}


@pytest.mark.parametrize("overrides, message", INVALID.values(), ids=INVALID.keys())
def test_invalid_values_raise_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        get_preset("tiny", **{"architecture": "encoder", **overrides})


def test_invalid_values_in_a_saved_config_fail_on_load(tmp_path):
    get_preset("tiny", "decoder").save_pretrained(tmp_path)
    config_file = tmp_path / "config.json"
    config_file.write_text(config_file.read_text().replace('"hidden_act": "gelu"', '"hidden_act": "swiglu"'))
    with pytest.raises(ValueError, match="hidden_act='swiglu'"):
        AutoConfig.from_pretrained(tmp_path)


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="'huge'.*'tiny', 'small', 'base'"):
        get_preset("huge")


@pytest.mark.parametrize("architecture", ["encoder", "decoder", "encoder-decoder"])
def test_dict_and_file_round_trips(architecture, tmp_path):
    config = get_preset(
        "tiny",
        architecture,
        position_embedding_type="rotary",
        pre_norm=True,
        hidden_act="silu",
        num_decoder_layers=3,
        classifier_dropout=0.2,
        tie_word_embeddings=False,
        num_labels=5,
    )
    as_dict = config.to_dict()
    assert TransfuseConfig.from_dict(as_dict).to_dict() == as_dict
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is TransfuseConfig
    assert {**loaded.to_dict(), "_name_or_path": ""} == as_dict  # loading records the folder it came from
    assert loaded.auto_map["AutoModelForSeq2SeqLM"] == "modeling_transfuse.TransfuseForConditionalGeneration"


def test_derived_defaults():
    seq2seq = get_preset("tiny", "encoder-decoder", num_hidden_layers=2)
    assert seq2seq.is_encoder_decoder and seq2seq.num_decoder_layers == 2
    assert seq2seq.decoder_start_token_id == seq2seq.bos_token_id
    decoder = get_preset("tiny", "decoder")
    assert not decoder.is_encoder_decoder and decoder.decoder_start_token_id is None
    assert get_preset("tiny").head_dim == 16


def test_decoder_text_config_has_the_decoder_depth():
    """`generate` sizes its cache from `get_text_config(decoder=True)`: it must see the decoder's layers."""
    config = get_preset("tiny", "encoder-decoder", num_hidden_layers=2, num_decoder_layers=3)
    assert config.get_text_config(decoder=True).num_hidden_layers == 3
    assert config.num_hidden_layers == 2, "the view must not change the encoder depth"


@pytest.mark.parametrize("decoder_vocab_size", [None, 48], ids=["shared", "separate"])
def test_decoder_vocabulary(decoder_vocab_size, tmp_path):
    """`decoder_vocab_size`: None (the default, and what a config.json written before the field reads as) = the
    encoder's vocabulary; set, the decoder's own, seen as `vocab_size` by the decoder view `generate` reads."""
    config = get_preset("tiny", "encoder-decoder", decoder_vocab_size=decoder_vocab_size)
    assert config.output_vocab_size == (decoder_vocab_size or 128)
    assert config.get_text_config(decoder=True).vocab_size == config.output_vocab_size
    assert config.vocab_size == 128 and config.decoder_vocab_size == decoder_vocab_size, "the view changes nothing"
    config.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).decoder_vocab_size == decoder_vocab_size
    saved = json.loads((tmp_path / "config.json").read_text())
    if decoder_vocab_size is None:  # an older checkpoint, without the field
        (tmp_path / "config.json").write_text(
            json.dumps({k: v for k, v in saved.items() if k != "decoder_vocab_size"})
        )
        assert AutoConfig.from_pretrained(tmp_path).output_vocab_size == 128


@pytest.mark.parametrize(
    "head, architecture",
    [
        (TransfuseForMaskedLM, "decoder"),
        (TransfuseForMaskedLM, "encoder-decoder"),
        (TransfuseForCausalLM, "encoder"),
        (TransfuseForCausalLM, "encoder-decoder"),
        (TransfuseForConditionalGeneration, "encoder"),
        (TransfuseForConditionalGeneration, "decoder"),
    ],
)
def test_heads_refuse_an_architecture_they_cannot_run(head, architecture):
    with pytest.raises(ValueError, match=f"{head.__name__} needs architecture in .*got architecture='{architecture}'"):
        head(get_preset("tiny", architecture))


def test_auto_class_refuses_too():
    with pytest.raises(ValueError, match="Masked LM needs a bidirectional encoder"):
        AutoModelForMaskedLM.from_config(get_preset("tiny", "decoder"))
