"""Every head x architecture through the common model tests (`common.ModelTesterMixin`).

Each architecture runs with a different position type and norm placement, so the three position types and
both norm placements all pass the whole mixin: encoder = learned + post-norm (BERT-like), decoder = rotary +
pre-norm (LLaMA-like positions, GPT-2-like norms), encoder-decoder = sinusoidal + post-norm (Vaswani et al.).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from transfuse.modeling import TransfuseForSequenceClassification, TransfuseModel
from transfuse.modeling.modeling_transfuse import sinusoidal_positions

from .common import LM_HEADS, ModelTesterMixin, TransfuseModelTester, build, model_classes_for


class TestEncoderHeads(ModelTesterMixin):
    model_tester = TransfuseModelTester("encoder", {"position_embedding_type": "learned", "pre_norm": False})
    all_model_classes = model_classes_for("encoder")


class TestDecoderHeads(ModelTesterMixin):
    model_tester = TransfuseModelTester("decoder", {"position_embedding_type": "rotary", "pre_norm": True})
    all_model_classes = model_classes_for("decoder")


class TestEncoderDecoderHeads(ModelTesterMixin):
    model_tester = TransfuseModelTester(
        "encoder-decoder", {"position_embedding_type": "sinusoidal", "pre_norm": False}
    )
    all_model_classes = model_classes_for("encoder-decoder")


@pytest.mark.parametrize("pre_norm", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("position_embedding_type", ["learned", "sinusoidal", "rotary"])
@pytest.mark.parametrize("architecture", ["encoder", "decoder", "encoder-decoder"])
def test_every_position_type_and_norm_placement(architecture, position_embedding_type, pre_norm):
    """The LM head of each architecture under every position type x norm placement (the classes above run
    one combination each through the whole mixin): shapes, padding invariance, SDPA == eager."""
    suite = ModelTesterMixin()
    suite.model_tester = TransfuseModelTester(
        architecture, {"position_embedding_type": position_embedding_type, "pre_norm": pre_norm}
    )
    lm_head = LM_HEADS[architecture]
    suite.test_forward_shapes(lm_head)
    suite.test_padding_invariance(lm_head)
    suite.test_sdpa_matches_eager(lm_head)


def test_decoder_classifier_pools_the_last_real_token_on_either_padding_side():
    tester = TransfuseModelTester("decoder")
    model = build(TransfuseForSequenceClassification, tester.get_config())
    tokens = tester.ids(4, batch_size=1)  # (1, 4)
    pad = torch.zeros(1, 3, dtype=torch.long)  # (1, 3)
    left, right = torch.cat([pad, tokens], 1), torch.cat([tokens, pad], 1)  # (1, 7) each
    left_mask, right_mask = (left != 0).long(), (right != 0).long()
    with torch.no_grad():
        alone = model(input_ids=tokens).logits
        torch.testing.assert_close(model(input_ids=left, attention_mask=left_mask).logits, alone)
        torch.testing.assert_close(model(input_ids=right, attention_mask=right_mask).logits, alone)


@pytest.mark.parametrize("architecture", ["encoder", "decoder"])
def test_mean_pooling_classifier_reads_the_mean_of_the_real_tokens(architecture):
    tester = TransfuseModelTester(architecture)
    model = build(TransfuseForSequenceClassification, tester.get_config(classifier_pooling="mean"))
    tokens = tester.ids(4, batch_size=1)  # (1, 4)
    padded = torch.cat([tokens, torch.zeros(1, 3, dtype=torch.long)], 1)  # (1, 7)
    with torch.no_grad():
        alone = model(input_ids=tokens).logits
        torch.testing.assert_close(model(input_ids=padded, attention_mask=(padded != 0).long()).logits, alone)
        hidden = model.model(input_ids=tokens).last_hidden_state  # (1, 4, C)
        expected = model.classifier(torch.tanh(model.dense(hidden.mean(1))))
    torch.testing.assert_close(alone, expected)


def test_unknown_classifier_pooling_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"classifier_pooling='max'.*'first', 'last', 'mean'"):
        TransfuseModelTester("encoder").get_config(classifier_pooling="max")


@pytest.mark.parametrize("architecture", ["encoder", "decoder", "encoder-decoder"])
def test_pretrained_lm_checkpoint_loads_into_a_classifier(architecture, tmp_path):
    """Pretrain-then-fine-tune: every head keeps the backbone under `model.`, so an LM checkpoint fills the
    classifier's backbone and leaves only the new head initialised. On an encoder-decoder the classifier runs
    the encoder alone and the checkpoint's decoder weights are skipped silently."""
    config = TransfuseModelTester(architecture).get_config()
    build(LM_HEADS[architecture], config).save_pretrained(tmp_path)
    lm_state = load_file(tmp_path / "model.safetensors")
    classifier, info = TransfuseForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert set(info["missing_keys"]) == {"dense.weight", "dense.bias", "classifier.weight", "classifier.bias"}
    assert all(key.startswith("lm_head.") for key in info["unexpected_keys"]), info["unexpected_keys"]
    assert hasattr(classifier.model, "decoder") == (architecture == "decoder")
    for name, tensor in classifier.model.state_dict().items():
        assert torch.equal(tensor, lm_state[f"model.{name}"]), name


def test_sinusoid_table_is_the_formula_and_is_rebuilt_not_saved(tmp_path):
    """Sinusoidal stacks look positions up in a fixed table: it equals sin/cos of the positions, checkpoints do
    not carry it, and `from_pretrained` (which builds on the meta device) refills it."""
    tester = TransfuseModelTester("encoder-decoder", {"position_embedding_type": "sinusoidal"})
    model = build(LM_HEADS["encoder-decoder"], tester.get_config())
    positions = torch.tensor([[0, 1, 7], [5, 63, 2]])
    expected = sinusoidal_positions(positions, model.config.hidden_size, torch.float32)
    for stack in (model.model.encoder, model.model.decoder):
        assert torch.equal(stack.sinusoid_table[positions], expected)
    model.save_pretrained(tmp_path)
    assert not any("sinusoid" in key for key in load_file(tmp_path / "model.safetensors"))
    reloaded = type(model).from_pretrained(tmp_path)
    for stack in (reloaded.model.encoder, reloaded.model.decoder):
        assert torch.equal(stack.sinusoid_table[positions], expected)


@pytest.mark.parametrize("position_embedding_type", ["learned", "sinusoidal", "rotary"])
def test_inputs_longer_than_max_position_embeddings(position_embedding_type):
    """Position tables end at `max_position_embeddings` and say so; rotary positions have no table."""
    tester = TransfuseModelTester("encoder", {"position_embedding_type": position_embedding_type})
    model = build(TransfuseModel, tester.get_config())
    too_long = tester.ids(model.config.max_position_embeddings + 1, batch_size=1)
    if position_embedding_type == "rotary":
        assert model(input_ids=too_long).last_hidden_state.shape[1] == too_long.shape[1]
        return
    with pytest.raises(ValueError, match="65 tokens is longer than max_position_embeddings=64"):
        model(input_ids=too_long)


@pytest.mark.parametrize("architecture", ["encoder", "decoder", "encoder-decoder"])
def test_lm_losses_match_their_definitions(architecture):
    """MLM: cross-entropy where labels != -100; causal LM: labels shifted left by one inside the loss;
    seq2seq: labels aligned with the decoder outputs (decoder inputs are the labels shifted right)."""
    tester = TransfuseModelTester(architecture)
    lm_head = LM_HEADS[architecture]
    model = build(lm_head, tester.get_config())
    inputs = tester.prepare_inputs(lm_head, with_labels=True)
    labels = inputs["labels"]
    if architecture == "encoder-decoder":
        del inputs["decoder_input_ids"]  # derived from the labels
    with torch.no_grad():
        outputs = model(**inputs)
    logits = outputs.logits  # (B, T, V)
    if architecture == "decoder":
        logits, labels = logits[:, :-1], labels[:, 1:]  # position t predicts token t + 1
    expected = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    torch.testing.assert_close(outputs.loss, expected)
    if architecture == "encoder-decoder":
        start = model.config.decoder_start_token_id
        with torch.no_grad():
            teacher_forced = model(
                **inputs, decoder_input_ids=torch.cat([torch.full_like(labels[:, :1], start), labels[:, :-1]], 1)
            ).logits  # (B, Td, V)
        torch.testing.assert_close(outputs.logits, teacher_forced)


@pytest.mark.parametrize("pre_norm", [True, False])
def test_init_scales_residual_projections_of_pre_norm_stacks(pre_norm):
    """GPT-2's scheme: in pre-norm stacks o_proj and fc2 start at std / sqrt(2 x layers); other linears at std."""
    from transfuse.modeling import TransfuseForCausalLM, get_preset

    config = get_preset("small", "decoder", pre_norm=pre_norm)
    layer = TransfuseForCausalLM(config).model.decoder.layers[0]
    std = config.initializer_range
    residual = std / (2 * config.num_hidden_layers) ** 0.5 if pre_norm else std
    for linear, expected in (
        (layer.self_attn.q_proj, std),
        (layer.fc1, std),
        (layer.self_attn.o_proj, residual),
        (layer.fc2, residual),
    ):
        assert abs(linear.weight.std().item() / expected - 1) < 0.05


def test_init_scales_by_each_stacks_own_residual_branches():
    """An encoder-decoder's decoder has its own depth and three residual writers per layer (cross-attention too)."""
    from transfuse.modeling import TransfuseForConditionalGeneration, get_preset

    config = get_preset("small", "encoder-decoder", pre_norm=True, num_hidden_layers=2, num_decoder_layers=6)
    model = TransfuseForConditionalGeneration(config).model
    std = config.initializer_range
    encoder_layer, decoder_layer = model.encoder.layers[0], model.decoder.layers[0]
    for linear, branches in (
        (encoder_layer.fc2, 2 * 2),
        (decoder_layer.fc2, 3 * 6),
        (decoder_layer.self_attn.o_proj, 3 * 6),
        (decoder_layer.cross_attn.o_proj, 3 * 6),
    ):
        assert abs(linear.weight.std().item() / (std / branches**0.5) - 1) < 0.05


def test_sparse_masked_lm_prediction_matches_the_dense_loss_and_gradients():
    """`sparse_prediction` projects only the masked positions: same loss and gradients, logits (N_masked, V)."""
    tester = TransfuseModelTester("encoder")
    dense = build(LM_HEADS["encoder"], tester.get_config())
    sparse = build(LM_HEADS["encoder"], tester.get_config(sparse_prediction=True))
    sparse.load_state_dict(dense.state_dict())
    inputs = tester.prepare_inputs(LM_HEADS["encoder"])
    labels = inputs["input_ids"].masked_fill(torch.rand(inputs["input_ids"].shape) > 0.3, -100)
    labels[0, 0] = inputs["input_ids"][0, 0]  # at least one masked position
    outputs = {}
    for name, model in (("dense", dense), ("sparse", sparse)):
        model.eval()
        outputs[name] = model(**inputs, labels=labels)
        outputs[name].loss.backward()
    masked = labels.ne(-100)
    assert outputs["sparse"].logits.shape == (int(masked.sum()), dense.config.vocab_size)
    torch.testing.assert_close(outputs["sparse"].logits, outputs["dense"].logits[masked])
    torch.testing.assert_close(outputs["sparse"].loss, outputs["dense"].loss)
    for (name, grad_dense), grad_sparse in zip(
        ((n, p.grad) for n, p in dense.named_parameters()), (p.grad for p in sparse.parameters())
    ):
        torch.testing.assert_close(grad_sparse, grad_dense, msg=name)
    with torch.no_grad():  # without labels (fill-mask, pipelines) every position is scored as usual
        assert sparse(**inputs).logits.shape == outputs["dense"].logits.shape


@pytest.mark.parametrize(
    "problem_type, num_labels, labels, loss",
    [
        ("single_label_classification", 3, torch.tensor([2, 0]), lambda z, y: F.cross_entropy(z, y)),
        (
            "multi_label_classification",
            3,
            torch.tensor([[1.0, 0, 1], [0, 1, 0]]),
            lambda z, y: F.binary_cross_entropy_with_logits(z, y),
        ),
        ("regression", 1, torch.tensor([0.5, -1.0]), lambda z, y: F.mse_loss(z.squeeze(-1), y)),
    ],
)
def test_sequence_classification_problem_types(problem_type, num_labels, labels, loss):
    tester = TransfuseModelTester("encoder")
    config = tester.get_config(num_labels=num_labels, problem_type=problem_type)
    model = build(TransfuseForSequenceClassification, config)
    with torch.no_grad():
        outputs = model(**tester.prepare_inputs(TransfuseForSequenceClassification), labels=labels)
    torch.testing.assert_close(outputs.loss, loss(outputs.logits, labels))


def test_decoder_classifier_without_mask_pools_the_last_non_pad_token():
    from transfuse.modeling import get_preset

    model = TransfuseForSequenceClassification(get_preset("tiny", "decoder", hidden_dropout_prob=0.0)).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0]])
    with torch.no_grad():
        padded = model(input_ids=ids).logits
        alone = model(input_ids=ids[:, :3]).logits
    torch.testing.assert_close(padded, alone)
