"""The common model tests: `TransfuseModelTester` (tiny config + inputs per architecture) and `ModelTesterMixin`.

Shaped after transformers' `ModelTesterMixin` / `CausalLMModelTester`: a test class names an architecture's
tester and its `all_model_classes`, and every `test_*` of the mixin runs once per head (pytest parametrizes
`model_class` through the class-level `pytest_generate_tests` hook, so xdist spreads the heads over workers).
Comparisons run in eval mode (dropout off) and only over real, non-padding tokens.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from transfuse.modeling import (
    AUTO_CLASSES,
    TransfuseConfig,
    TransfuseForCausalLM,
    TransfuseForConditionalGeneration,
    TransfuseForMaskedLM,
    TransfuseForQuestionAnswering,
    TransfuseForSequenceClassification,
    TransfuseForTokenClassification,
    TransfuseModel,
    TransfusePreTrainedModel,
    get_preset,
)

UNDERSTANDING_HEADS = (
    TransfuseForSequenceClassification,
    TransfuseForQuestionAnswering,
    TransfuseForTokenClassification,
)
LM_HEADS = {
    "encoder": TransfuseForMaskedLM,
    "decoder": TransfuseForCausalLM,
    "encoder-decoder": TransfuseForConditionalGeneration,
}
AUTO_CLASS_OF = {model_class: auto_class for auto_class, model_class in AUTO_CLASSES.values()}
OUTPUT_NAMES = ("logits", "start_logits", "end_logits", "last_hidden_state")
FIRST_REAL_TOKEN_ID = 5  # ids 0-4 are pad/unk/bos/eos/mask in the transfuse tokenizers


def model_classes_for(architecture: str) -> tuple[type[TransfusePreTrainedModel], ...]:
    """Every head that accepts `architecture`: the backbone, its LM head, and the understanding heads."""
    return (TransfuseModel, LM_HEADS[architecture], *UNDERSTANDING_HEADS)


def main_outputs(outputs: Any) -> dict[str, torch.Tensor]:
    """The prediction tensors of a head's output (logits, QA start/end logits or hidden states)."""
    return {name: outputs[name] for name in OUTPUT_NAMES if name in outputs}


def runs_decoder(model: TransfusePreTrainedModel) -> bool:
    """True when the head runs the decoder of an encoder-decoder (its outputs are over decoder tokens)."""
    backbone = model if isinstance(model, TransfuseModel) else model.model
    return backbone.is_seq2seq


def assert_outputs_close(
    expected: dict[str, torch.Tensor], actual: dict[str, torch.Tensor], atol: float = 1e-5, what: str = ""
) -> None:
    assert expected.keys() == actual.keys(), f"{what}: output names differ"
    for name in expected:
        torch.testing.assert_close(
            actual[name], expected[name], atol=atol, rtol=0, msg=lambda m, name=name: f"{what} `{name}`: {m}"
        )


@dataclass
class TransfuseModelTester:
    """Builds a tiny config of one architecture and a padded batch of inputs (and labels) for any head.

    Encoders and encoder inputs are right-padded, decoder-only inputs left-padded (as for batched generation).
    Row 0 of every batch is full length; row 1 has `padding` pad tokens.
    """

    architecture: str
    config_overrides: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 2
    seq_length: int = 7
    decoder_seq_length: int = 5
    padding: int = 3
    num_labels: int = 3

    @property
    def padding_side(self) -> str:
        return "left" if self.architecture == "decoder" else "right"

    def get_config(self, **overrides: Any) -> TransfuseConfig:
        return get_preset(
            "tiny", self.architecture, **{"num_labels": self.num_labels, **self.config_overrides, **overrides}
        )

    def ids(
        self,
        length: int,
        batch_size: int | None = None,
        generator: torch.Generator | None = None,
        vocab_size: int | None = None,
    ) -> torch.Tensor:
        vocab_size = vocab_size or self.get_config().vocab_size
        generator = generator or torch.Generator().manual_seed(0)
        return torch.randint(
            FIRST_REAL_TOKEN_ID, vocab_size, (batch_size or self.batch_size, length), generator=generator
        )  # (B, T)

    def padding_mask(self, batch_size: int, length: int, pad_rows: dict[int, int], side: str) -> torch.Tensor:
        """(B, T) mask with `pad_rows[row]` zeros on `side`."""
        mask = torch.ones(batch_size, length, dtype=torch.long)
        for row, pads in pad_rows.items():
            if side == "left":
                mask[row, :pads] = 0
            else:
                mask[row, length - pads :] = 0
        return mask

    def pad(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return input_ids.masked_fill(mask == 0, self.get_config().pad_token_id)

    def prepare_inputs(
        self, model_class: type, with_labels: bool = False, vocab_size: int | None = None
    ) -> dict[str, torch.Tensor]:
        """A padded batch for `model_class` on this architecture; `with_labels` adds the head's targets. Decoder
        tokens come from the decoder's own vocabulary when the config has one (`decoder_vocab_size`)."""
        B, T, Td = self.batch_size, self.seq_length, self.decoder_seq_length
        decoder_vocab_size = self.get_config().decoder_vocab_size or vocab_size
        generator = torch.Generator().manual_seed(0)
        mask = self.padding_mask(B, T, {1: self.padding}, self.padding_side)
        inputs = {
            "input_ids": self.pad(self.ids(T, generator=generator, vocab_size=vocab_size), mask),
            "attention_mask": mask,
        }
        seq2seq_classes = (TransfuseModel, LM_HEADS["encoder-decoder"])
        seq2seq = self.architecture == "encoder-decoder" and model_class in seq2seq_classes
        if seq2seq:
            inputs["decoder_input_ids"] = self.ids(Td, generator=generator, vocab_size=decoder_vocab_size)
        if not with_labels:
            return inputs
        if model_class is TransfuseForMaskedLM:
            labels = inputs["input_ids"].masked_fill(torch.rand(B, T, generator=generator) < 0.5, -100)
            labels[:, 0] = inputs["input_ids"][:, 0]  # at least one target per row
            inputs["labels"] = labels.masked_fill(mask == 0, -100)  # (B, T)
        elif model_class is TransfuseForCausalLM:
            inputs["labels"] = inputs["input_ids"].masked_fill(mask == 0, -100)  # (B, T), shifted inside the loss
        elif model_class is TransfuseForConditionalGeneration:
            inputs["labels"] = self.ids(Td, generator=generator, vocab_size=decoder_vocab_size)  # (B, Td)
        elif model_class is TransfuseForSequenceClassification:
            inputs["labels"] = torch.arange(B) % self.num_labels  # (B,)
        elif model_class is TransfuseForQuestionAnswering:
            first_real = mask.argmax(-1)  # (B,): 0, or the number of left pads
            inputs["start_positions"], inputs["end_positions"] = first_real + 1, first_real + 2  # (B,) each
        elif model_class is TransfuseForTokenClassification:
            inputs["labels"] = (torch.arange(T) % self.num_labels).expand(B, T).masked_fill(mask == 0, -100)
        return inputs

    def expected_shapes(self, model: TransfusePreTrainedModel) -> dict[str, tuple[int, ...]]:
        cfg = model.config
        B, C, V = self.batch_size, cfg.hidden_size, cfg.vocab_size
        T = self.decoder_seq_length if runs_decoder(model) else self.seq_length
        return {
            TransfuseModel: {"last_hidden_state": (B, T, C)},
            TransfuseForMaskedLM: {"logits": (B, T, V)},
            TransfuseForCausalLM: {"logits": (B, T, V)},
            TransfuseForConditionalGeneration: {"logits": (B, T, cfg.decoder_vocab_size or V)},
            TransfuseForSequenceClassification: {"logits": (B, self.num_labels)},
            TransfuseForQuestionAnswering: {"start_logits": (B, T), "end_logits": (B, T)},
            TransfuseForTokenClassification: {"logits": (B, T, self.num_labels)},
        }[type(model)]


def build(model_class: type, config: TransfuseConfig, seed: int = 0, **from_config_kwargs: Any):
    """A freshly initialised head in eval mode, through its Auto class (so the registration is exercised too).

    `from_config(..., attn_implementation=...)` writes into the config it is given, so it gets a copy.
    """
    torch.manual_seed(seed)
    model = AUTO_CLASS_OF[model_class].from_config(copy.deepcopy(config), **from_config_kwargs)
    assert type(model) is model_class
    return model.eval()


class ModelTesterMixin:
    """Tests every head of one architecture. A subclass sets `model_tester` and `all_model_classes`."""

    model_tester: TransfuseModelTester
    all_model_classes: tuple[type[TransfusePreTrainedModel], ...] = ()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "model_class" in metafunc.fixturenames:
            metafunc.parametrize("model_class", self.all_model_classes, ids=lambda cls: cls.__name__)
        if "lm_model_class" in metafunc.fixturenames:
            lm_classes = [cls for cls in self.all_model_classes if cls in LM_HEADS.values()]
            metafunc.parametrize("lm_model_class", lm_classes, ids=lambda cls: cls.__name__)

    # ---- forward / backward ---------------------------------------------------------------------------------

    def test_forward_shapes(self, model_class):
        model = build(model_class, self.model_tester.get_config())
        with torch.no_grad():
            outputs = model(**self.model_tester.prepare_inputs(model_class))
        shapes = {name: tuple(tensor.shape) for name, tensor in main_outputs(outputs).items()}
        assert shapes == self.model_tester.expected_shapes(model)
        for name, tensor in main_outputs(outputs).items():
            assert torch.isfinite(tensor).all(), f"{name} has non-finite values"

    def test_loss_backward_reaches_every_parameter(self, model_class):
        model = build(model_class, self.model_tester.get_config()).train()
        outputs = model(**self.model_tester.prepare_inputs(model_class, with_labels=True))
        if model_class is TransfuseModel:
            assert outputs.get("loss") is None, "the bare backbone has no loss"
            loss = outputs.last_hidden_state.pow(2).mean()  # a stand-in objective for the backbone
        else:
            loss = outputs.loss
            assert loss is not None and loss.dim() == 0 and torch.isfinite(loss), f"bad loss {loss}"
        loss.backward()
        for name, param in model.named_parameters():
            assert param.grad is not None, f"{name} got no gradient"
            # softmax ignores a shift shared by all keys, so the key bias only gets round-off gradients
            if not name.endswith("k_proj.bias"):
                assert param.grad.abs().sum() > 0, f"{name} got an all-zero gradient"

    @pytest.mark.parametrize("use_reentrant", [False, True], ids=["non_reentrant", "reentrant"])
    def test_gradient_checkpointing_gives_the_same_gradients(self, model_class, use_reentrant):
        """Both torch checkpoint flavours; the reentrant one (peft's QLoRA path, many recipes) tracks only
        positional tensors, so the encoder output must reach the decoder layers positionally."""
        config = self.model_tester.get_config()
        inputs = self.model_tester.prepare_inputs(model_class, with_labels=True)

        def gradients(model) -> dict[str, torch.Tensor]:
            torch.manual_seed(1)  # same dropout masks in both runs; checkpointing replays the RNG state
            outputs = model(**inputs)
            loss = outputs.loss if outputs.get("loss") is not None else outputs.last_hidden_state.pow(2).mean()
            loss.backward()
            return {name: p.grad.clone() for name, p in model.named_parameters()}

        model = build(model_class, config).train()
        assert model.supports_gradient_checkpointing
        expected = gradients(model)
        model.zero_grad(set_to_none=True)
        # transformers 5 name of `gradient_checkpointing_enable` (kept as a deprecated alias until v6)
        model.activation_checkpointing_enable({"use_reentrant": use_reentrant})
        assert model.is_activation_checkpointing
        # hooks on the layer itself stay outside the checkpoint; one inside it sees the backward replay
        feed_forward_calls = []
        layer = next(m for m in model.modules() if type(m).__name__ == "TransfuseLayer")
        layer.fc1.register_forward_hook(lambda *args: feed_forward_calls.append(1))
        actual = gradients(model)
        assert len(feed_forward_calls) == 2, "a checkpointed layer should run again during backward"
        assert_outputs_close(expected, actual, atol=1e-6, what="gradients with checkpointing")

    # ---- save / load ----------------------------------------------------------------------------------------

    def test_save_load_round_trip(self, model_class, tmp_path):
        model = build(model_class, self.model_tester.get_config())
        inputs = self.model_tester.prepare_inputs(model_class)
        model.save_pretrained(tmp_path)
        assert (tmp_path / "model.safetensors").is_file()
        assert not list(tmp_path.glob("*.bin")), "weights must be safetensors only"
        loaded = model_class.from_pretrained(tmp_path).eval()
        with torch.no_grad():
            expected, actual = main_outputs(model(**inputs)), main_outputs(loaded(**inputs))
        for name in expected:
            assert torch.equal(expected[name], actual[name]), f"`{name}` changed after save/load"

    def test_tied_embeddings_share_storage_after_load(self, lm_model_class, tmp_path):
        model = build(lm_model_class, self.model_tester.get_config())
        model.save_pretrained(tmp_path)
        stored = load_file(tmp_path / "model.safetensors")
        loaded = lm_model_class.from_pretrained(tmp_path)
        output_weight = loaded.get_output_embeddings().weight
        assert output_weight.data_ptr() == loaded.get_input_embeddings().weight.data_ptr()
        assert sum(t.shape == output_weight.shape for t in stored.values()) == 1, "tied matrix stored twice"

    def test_untied_embeddings_stay_separate(self, lm_model_class):
        model = build(lm_model_class, self.model_tester.get_config(tie_word_embeddings=False))
        assert model.get_output_embeddings().weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()

    # ---- numerics ---------------------------------------------------------------------------------------------

    def test_padding_invariance(self, model_class):
        """Row 1 of the batch is padded: alone (unpadded) it must give the same outputs on its real tokens."""
        tester = self.model_tester
        model = build(model_class, tester.get_config())
        inputs = tester.prepare_inputs(model_class)
        real = inputs["attention_mask"][1].bool()  # (T,)
        alone = {name: value[1:2] for name, value in inputs.items()}
        alone["input_ids"], alone["attention_mask"] = alone["input_ids"][:, real], alone["attention_mask"][:, real]
        with torch.no_grad():
            batched, single = main_outputs(model(**inputs)), main_outputs(model(**alone))
        per_token = not (model_class is TransfuseForSequenceClassification or runs_decoder(model))
        batched_row = {name: value[1:2, real] if per_token else value[1:2] for name, value in batched.items()}
        assert_outputs_close(single, batched_row, what=f"{tester.padding_side}-padded row vs alone")

    def test_sdpa_matches_eager(self, model_class):
        config = self.model_tester.get_config()
        eager = build(model_class, config, attn_implementation="eager")
        sdpa = build(model_class, config, attn_implementation="sdpa")
        assert (eager.config._attn_implementation, sdpa.config._attn_implementation) == ("eager", "sdpa")
        assert config._attn_implementation != "eager", "from_config must not write into the caller's config"
        sdpa.load_state_dict(eager.state_dict())
        inputs = self.model_tester.prepare_inputs(model_class)
        with torch.no_grad():
            assert_outputs_close(main_outputs(eager(**inputs)), main_outputs(sdpa(**inputs)), what="sdpa vs eager")

    def test_attention_probabilities(self, model_class):
        """Per layer (B, nh, queries, keys) probabilities summing to 1, none on padding or (causal) future keys."""
        tester = self.model_tester
        model = build(model_class, tester.get_config())
        inputs = tester.prepare_inputs(model_class)
        with torch.no_grad():
            outputs = model(**inputs, output_attentions=True)
        cfg, B, nh = model.config, tester.batch_size, model.config.num_attention_heads
        real = inputs["attention_mask"].bool()  # (B, T)
        decoder_real = torch.ones(B, tester.decoder_seq_length, dtype=torch.bool)  # (B, Td): never padded here
        if runs_decoder(model):  # name: (layers, real queries, real keys, causal)
            expected = {
                "encoder_attentions": (cfg.num_hidden_layers, real, real, False),
                "decoder_attentions": (cfg.num_decoder_layers, decoder_real, decoder_real, True),
                "cross_attentions": (cfg.num_decoder_layers, decoder_real, real, False),
            }
        else:
            expected = {"attentions": (cfg.num_hidden_layers, real, real, cfg.architecture == "decoder")}
        for name, (layers, real_queries, real_keys, causal) in expected.items():
            assert len(outputs[name]) == layers, f"{name}: one tensor per layer"
            queries, keys = real_queries.shape[1], real_keys.shape[1]
            # (B, 1, Tq, S): a real query must put no weight on a padding key, nor on a future key when causal
            forbidden = real_queries[:, None, :, None] & ~real_keys[:, None, None, :]
            if causal:
                forbidden = forbidden | (real_queries[:, None, :, None] & torch.ones(queries, keys).triu(1).bool())
            for probs in outputs[name]:
                assert probs.shape == (B, nh, queries, keys), f"{name}: shape {tuple(probs.shape)}"
                torch.testing.assert_close(probs.sum(-1), torch.ones(B, nh, queries))
                assert (probs.masked_select(forbidden) == 0).all(), f"{name} attends to padding or the future"

    def test_hidden_states_output(self, model_class):
        """`output_hidden_states=True`: the embeddings plus one (B, T, C) tensor per layer, the last one final."""
        tester = self.model_tester
        model = build(model_class, tester.get_config())
        with torch.no_grad():
            outputs = model(**tester.prepare_inputs(model_class), output_hidden_states=True)
        cfg, B, C = model.config, tester.batch_size, model.config.hidden_size
        T, Td = tester.seq_length, tester.decoder_seq_length
        if runs_decoder(model):  # name: (layers, length, the output it must end with)
            expected = {
                "encoder_hidden_states": (cfg.num_hidden_layers, T, "encoder_last_hidden_state"),
                "decoder_hidden_states": (cfg.num_decoder_layers, Td, "last_hidden_state"),
            }
        else:
            expected = {"hidden_states": (cfg.num_hidden_layers, T, "last_hidden_state")}
        for name, (layers, length, final_name) in expected.items():
            states = outputs[name]
            assert len(states) == layers + 1, f"{name}: embeddings + one per layer"
            assert all(h.shape == (B, length, C) for h in states), f"{name}: {[tuple(h.shape) for h in states]}"
            if final_name in outputs:
                assert torch.equal(states[-1], outputs[final_name]), f"{name}[-1] is not {final_name}"

    def test_inputs_embeds_match_input_ids(self, model_class):
        """Token embeddings passed in (as peft prompt tuning does) give the outputs of the ids themselves."""
        model = build(model_class, self.model_tester.get_config())
        with_ids = self.model_tester.prepare_inputs(model_class)
        with_embeds = dict(with_ids)
        with_embeds["inputs_embeds"] = model.get_input_embeddings()(with_embeds.pop("input_ids"))  # (B, T, C)
        with torch.no_grad():
            assert_outputs_close(
                main_outputs(model(**with_ids)), main_outputs(model(**with_embeds)), what="inputs_embeds vs input_ids"
            )

    # ---- structure ------------------------------------------------------------------------------------------

    def test_resize_token_embeddings(self, model_class):
        model = build(model_class, self.model_tester.get_config())
        old_vocab = model.config.vocab_size
        new_vocab = old_vocab + 8
        model.resize_token_embeddings(new_vocab)
        assert model.config.vocab_size == new_vocab
        assert model.get_input_embeddings().weight.shape[0] == new_vocab
        if (output_embeddings := model.get_output_embeddings()) is not None:
            assert output_embeddings.weight.shape[0] == new_vocab
            assert output_embeddings.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
        inputs = self.model_tester.prepare_inputs(model_class, with_labels=True, vocab_size=new_vocab)
        inputs["input_ids"][0, 0] = new_vocab - 1  # a token only the resized table has
        outputs = model(**inputs)
        if model_class in LM_HEADS.values():
            assert outputs.logits.shape[-1] == new_vocab
            assert outputs.loss is not None and torch.isfinite(outputs.loss)

    def test_no_split_modules_names_a_real_class(self, model_class):
        model = build(model_class, self.model_tester.get_config())
        module_classes = {type(module).__name__ for module in model.modules()}
        assert model._no_split_modules and set(model._no_split_modules) <= module_classes
