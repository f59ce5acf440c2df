"""An encoder-decoder with one vocabulary per side (`decoder_vocab_size`, as Marian's
`share_encoder_decoder_embeddings=False`): every head through the common model tests, the tying of the output
layer to the decoder's own table, both resizes, and generation with and without the KV cache.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from transfuse.modeling import TransfuseForConditionalGeneration, get_preset

from .common import ModelTesterMixin, TransfuseModelTester, build, model_classes_for
from .test_generation import build_generator, generate, random_ids

SOURCE_VOCAB = get_preset("tiny").vocab_size  # 128
TARGET_VOCAB = 48


class TestSeparateVocabularyHeads(ModelTesterMixin):
    model_tester = TransfuseModelTester(
        "encoder-decoder", {"position_embedding_type": "sinusoidal", "decoder_vocab_size": TARGET_VOCAB}
    )
    all_model_classes = model_classes_for("encoder-decoder")

    def test_tied_embeddings_share_storage_after_load(self, lm_model_class, tmp_path):
        """The output layer is the decoder's table (not the encoder's), each table stored once."""
        model = build(lm_model_class, self.model_tester.get_config())
        model.save_pretrained(tmp_path)
        stored = load_file(tmp_path / "model.safetensors")
        assert stored["model.encoder.embed_tokens.weight"].shape == (SOURCE_VOCAB, 32)
        assert stored["model.decoder.embed_tokens.weight"].shape == (TARGET_VOCAB, 32)
        assert "lm_head.weight" not in stored, "the tied output layer is stored with the decoder's table"
        loaded = lm_model_class.from_pretrained(tmp_path)
        output, decoder = loaded.get_output_embeddings().weight, loaded.model.get_decoder_input_embeddings().weight
        assert output.data_ptr() == decoder.data_ptr()
        assert output.data_ptr() != loaded.get_input_embeddings().weight.data_ptr()

    def test_untied_embeddings_stay_separate(self, lm_model_class):
        model = build(lm_model_class, self.model_tester.get_config(tie_word_embeddings=False))
        output = model.get_output_embeddings().weight
        assert output.shape == (TARGET_VOCAB, 32)
        assert output.data_ptr() != model.model.get_decoder_input_embeddings().weight.data_ptr()

    def test_resize_token_embeddings(self, model_class):
        """`resize_token_embeddings` grows the source vocabulary alone; `resize_decoder_token_embeddings` the
        target one (decoder table and output layer, still tied)."""
        if model_class is not TransfuseForConditionalGeneration:
            return super().test_resize_token_embeddings(model_class)  # heads without a target vocabulary
        model = build(model_class, self.model_tester.get_config())
        decoder_table = model.model.get_decoder_input_embeddings()
        model.resize_token_embeddings(SOURCE_VOCAB + 8)
        assert model.config.vocab_size == model.get_input_embeddings().num_embeddings == SOURCE_VOCAB + 8
        assert model.model.get_decoder_input_embeddings() is decoder_table
        assert model.get_output_embeddings().weight.shape == (TARGET_VOCAB, 32)
        assert model.config.decoder_vocab_size == TARGET_VOCAB

        model.resize_decoder_token_embeddings(TARGET_VOCAB + 4)
        assert model.config.decoder_vocab_size == TARGET_VOCAB + 4
        decoder_weight = model.model.get_decoder_input_embeddings().weight
        assert decoder_weight.shape == (TARGET_VOCAB + 4, 32)
        assert model.get_output_embeddings().weight.data_ptr() == decoder_weight.data_ptr()
        inputs = self.model_tester.prepare_inputs(model_class, with_labels=True)
        inputs["input_ids"][0, 0] = SOURCE_VOCAB + 7  # a token only the resized source table has
        inputs["labels"][0, 0] = TARGET_VOCAB + 3  # ... and one only the resized target table has
        outputs = model(**inputs)
        assert outputs.logits.shape[-1] == TARGET_VOCAB + 4
        assert torch.isfinite(outputs.loss)


def test_a_shared_vocabulary_has_no_decoder_table_to_resize():
    model = build(TransfuseForConditionalGeneration, get_preset("tiny", "encoder-decoder"))
    assert model.model.decoder.embed_tokens is None
    assert model.model.get_decoder_input_embeddings() is model.get_input_embeddings()
    with pytest.raises(ValueError, match="one vocabulary shared by encoder and decoder.*resize_token_embeddings"):
        model.resize_decoder_token_embeddings(200)
    with pytest.raises(ValueError, match="set it with set_input_embeddings"):
        model.model.set_decoder_input_embeddings(torch.nn.Embedding(200, 32))


def test_incremental_logits_match_a_full_forward():
    model = build_generator("encoder-decoder", decoder_vocab_size=TARGET_VOCAB)
    source, source_mask = random_ids(2, 7, seed=1), torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    targets = random_ids(2, 6) % TARGET_VOCAB  # (B, T): target-vocabulary ids
    encoder = {"encoder_outputs": model.get_encoder()(input_ids=source, attention_mask=source_mask)}
    encoder["attention_mask"] = source_mask
    with torch.no_grad():
        full = model(decoder_input_ids=targets, **encoder, use_cache=False).logits  # (B, T, V_target)
        assert full.shape == (2, 6, TARGET_VOCAB)
        cache = None
        for start in range(6):
            step = model(decoder_input_ids=targets[:, start : start + 1], **encoder, cache=cache, use_cache=True)
            cache = step.cache
            torch.testing.assert_close(step.logits, full[:, start : start + 1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("search", [{"num_beams": 1}, {"num_beams": 3}], ids=["greedy", "beam"])
def test_cached_and_uncached_generation_agree(search):
    model = build_generator("encoder-decoder", decoder_vocab_size=TARGET_VOCAB)
    prompts = random_ids(2, 5)  # source-vocabulary ids, up to 127
    cached = generate(
        model, prompts, do_sample=False, use_cache=True, output_logits=True, return_dict_in_generate=True, **search
    )
    uncached = generate(
        model, prompts, do_sample=False, use_cache=False, output_logits=True, return_dict_in_generate=True, **search
    )
    assert torch.equal(cached.sequences, uncached.sequences)
    assert int(cached.sequences.max()) < TARGET_VOCAB, "generated ids come from the target vocabulary"
    assert len(set(cached.sequences[0, 1:].tolist())) > 1, "degenerate output"
    for cached_step, uncached_step in zip(cached.logits, uncached.logits):
        assert cached_step.shape[-1] == TARGET_VOCAB
        torch.testing.assert_close(cached_step, uncached_step, atol=1e-5, rtol=0)
