"""The from-scratch builder shared by fine-tuning and pretraining (`transfuse.common.builder`)."""

from __future__ import annotations

import pytest
from transformers import BertConfig, BertTokenizerFast

from transfuse.common import builder
from transfuse.common.arguments import ModelArguments
from transfuse.modeling import get_preset
from transfuse.tokenization import train_tokenizer

TEXTS = [f"sentence number {i} is {'good' if i % 2 else 'bad'}" for i in range(60)]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS, vocab_size=300, show_progress=False)


def test_a_tokenizer_trained_without_vocab_size_gets_at_least_512_ids():
    tiny = ModelArguments(preset="tiny")  # 128 ids: too few for byte-level BPE's alphabet
    trained = builder.load_or_train_tokenizer(tiny, TEXTS * 5, builder.preset_positions(tiny, 100))
    assert 256 < len(trained) <= builder.MIN_TRAINED_VOCAB and trained.model_max_length == 100
    assert builder.preset_positions(tiny, 32) == 64  # the preset's table when the run needs less


def test_config_is_sized_to_the_tokenizer_then_overridden_then_given_the_task_fields(tokenizer):
    overrides = "hidden_size=48,num_labels=7"
    args = ModelArguments(preset="tiny", architecture="encoder-decoder", config_overrides=overrides)
    config = builder.scratch_config(args, tokenizer, 100, required={"num_labels": 3})
    assert config.architecture == "encoder-decoder" and config.hidden_size == 48 and config.num_labels == 3
    assert (config.vocab_size, config.max_position_embeddings) == (len(tokenizer), 100)
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (0, 2, 3)
    assert config.decoder_start_token_id == config.bos_token_id
    decoder = builder.scratch_config(ModelArguments(preset="tiny"), tokenizer, 8, architecture="decoder")
    assert decoder.architecture == "decoder" and decoder.max_position_embeddings == 64


def test_bert_style_tokenizers_lend_cls_and_sep_as_bos_and_eos(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"]) + "\n")
    bert = BertTokenizerFast(vocab_file=str(vocab))
    fields = builder.tokenizer_fields(bert)
    assert bert.bos_token_id is None and (fields["bos_token_id"], fields["eos_token_id"]) == (2, 3)
    assert (fields["vocab_size"], fields["pad_token_id"]) == (len(bert), 0)


def test_the_position_check_names_the_flag_and_the_fix():
    builder.check_positions(get_preset("tiny"), 64, "--block_size")
    with pytest.raises(
        ValueError,
        match=r"--block_size 65 is longer than the model's 64 positions; lower "
        r"--block_size, .* max_position_embeddings=65",
    ):
        builder.check_positions(get_preset("tiny"), 65, "--block_size")
    builder.check_positions(get_preset("tiny", position_embedding_type="rotary"), 10_000, "--block_size")
    assert builder.max_positions(BertConfig(max_position_embeddings=16)) == 16


def test_task_tokens_become_special_tokens_once(tokenizer):
    copy = train_tokenizer(TEXTS, vocab_size=300, show_progress=False)
    assert builder.add_tokens(copy, ["<p>", "</p>"]) == 2 and builder.add_tokens(copy, ["<p>", "</p>"]) == 0
    ids = copy("a <p> b </p>")["input_ids"]
    assert copy.convert_tokens_to_ids("<p>") in ids and len(copy) == len(tokenizer) + 2
    assert copy.decode(ids, skip_special_tokens=True).split() == ["a", "b"]
