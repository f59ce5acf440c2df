"""Numerical parity with reference `transformers` models: same weights in, same logits out (to 1e-5).

Each test builds a tiny randomly initialised HF model from a config (no downloads), perturbs every parameter
(so LayerNorm gains and biases are not the trivial ones/zeros), converts its state dict to transfuse names,
loads it strictly into the equal-sized transfuse preset, and compares the logits. The converters also check
that no HF weight was left unused, so a silently dropped tensor cannot hide a mismatch.

- BERT (`BertForMaskedLM`): post-norm encoder, learned positions; BERT adds token_type_embeddings[0] to
  every position, which folds into our position table; our MLM head is BERT's transform + tied decoder + bias.
- GPT-2 (`GPT2LMHeadModel`): pre-norm decoder; GPT-2's Conv1D stores weights transposed, and its fused
  `c_attn` splits into q/k/v.
- BART (`BartForConditionalGeneration`): post-norm encoder-decoder with a LayerNorm on the embeddings and
  sqrt(d)-scaled embeddings; its learned position tables start with 2 unused rows (offset 2).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    GPT2LMHeadModel,
)

from transfuse.modeling import (
    TransfuseForCausalLM,
    TransfuseForConditionalGeneration,
    TransfuseForMaskedLM,
    get_preset,
)

from .common import FIRST_REAL_TOKEN_ID

TINY = get_preset("tiny").to_dict()
V, C, L, H, FFN, P = (
    TINY[k]
    for k in (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
    )
)
SPECIAL_IDS = dict(pad_token_id=0, bos_token_id=2, eos_token_id=3)
Take = Callable[[str], torch.Tensor]


def perturbed(hf_model: torch.nn.Module) -> torch.nn.Module:
    """Adds noise to every parameter: LayerNorms and biases get non-trivial values to be copied right."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in hf_model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return hf_model.eval()


def convert(
    hf_model: torch.nn.Module, build_state: Callable[[Take], dict[str, torch.Tensor]], ignored: set[str] = frozenset()
) -> dict[str, torch.Tensor]:
    """Runs `build_state(take)`, where `take(hf_name)` reads an HF tensor, and checks every HF tensor was read."""
    hf_state = hf_model.state_dict()
    used: set[str] = set()

    def take(name: str) -> torch.Tensor:
        used.add(name)
        return hf_state[name]

    state = build_state(take)
    unused = hf_state.keys() - used - ignored
    assert not unused, f"HF weights not copied: {sorted(unused)}"
    return state


def renamed(take: Take, hf_prefix: str, our_prefix: str, names: dict[str, str]) -> dict[str, torch.Tensor]:
    """Weight and bias of every `{hf_prefix}.{theirs}` module as `{our_prefix}.{ours}`."""
    return {
        f"{our_prefix}.{ours}.{p}": take(f"{hf_prefix}.{theirs}.{p}")
        for theirs, ours in names.items()
        for p in ("weight", "bias")
    }


def load_strictly(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    model.load_state_dict(state, strict=True)  # every transfuse tensor is set, none left at its init
    return model.eval()


def token_ids(batch_size: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(FIRST_REAL_TOKEN_ID, V, (batch_size, length), generator=torch.Generator().manual_seed(seed))


def assert_logits_match(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


# ---- BERT -----------------------------------------------------------------------------------------------------

BERT_LAYER = {
    "attention.self.query": "self_attn.q_proj",
    "attention.self.key": "self_attn.k_proj",
    "attention.self.value": "self_attn.v_proj",
    "attention.output.dense": "self_attn.o_proj",
    "attention.output.LayerNorm": "self_attn_layer_norm",
    "intermediate.dense": "fc1",
    "output.dense": "fc2",
    "output.LayerNorm": "final_layer_norm",
}


def bert_state(take: Take) -> dict[str, torch.Tensor]:
    embeddings = take("bert.embeddings.word_embeddings.weight")
    # BERT adds the type-0 embedding to every token; as a constant per position it joins the position table
    positions = (
        take("bert.embeddings.position_embeddings.weight") + take("bert.embeddings.token_type_embeddings.weight")[0]
    )  # (P, C)
    state = {
        "model.encoder.embed_tokens.weight": embeddings,
        "model.encoder.embed_positions.weight": positions,
        "lm_head.decoder.weight": take("cls.predictions.decoder.weight"),  # tied to the embeddings
        "lm_head.decoder.bias": take("cls.predictions.bias"),
        **renamed(take, "bert.embeddings", "model.encoder", {"LayerNorm": "embed_layer_norm"}),
        **renamed(
            take, "cls.predictions", "lm_head", {"transform.dense": "dense", "transform.LayerNorm": "layer_norm"}
        ),
    }
    take("cls.predictions.decoder.bias")  # tied to cls.predictions.bias
    for i in range(L):
        state |= renamed(take, f"bert.encoder.layer.{i}", f"model.encoder.layers.{i}", BERT_LAYER)
    return state


def test_post_norm_encoder_matches_bert_masked_lm():
    torch.manual_seed(0)
    bert = perturbed(
        BertForMaskedLM(
            BertConfig(
                vocab_size=V,
                hidden_size=C,
                num_hidden_layers=L,
                num_attention_heads=H,
                intermediate_size=FFN,
                max_position_embeddings=P,
                hidden_act="gelu",
                layer_norm_eps=1e-12,
                type_vocab_size=2,
                pad_token_id=0,
            )
        )
    )
    config = get_preset(
        "tiny",
        "encoder",
        pre_norm=False,
        scale_embedding=False,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        position_embedding_type="learned",
        **SPECIAL_IDS,
    )
    converted = convert(bert, bert_state, ignored={"bert.embeddings.position_ids"})
    ours = load_strictly(TransfuseForMaskedLM(config), converted)
    input_ids = token_ids(2, 9)
    mask = torch.ones_like(input_ids)
    mask[1, 6:] = 0  # right padding: compare real tokens only
    with torch.no_grad():
        theirs = bert(input_ids=input_ids, attention_mask=mask).logits  # (B, T, V)
        mine = ours(input_ids=input_ids, attention_mask=mask).logits  # (B, T, V)
    assert_logits_match(mine[mask.bool()], theirs[mask.bool()])


# ---- GPT-2 ----------------------------------------------------------------------------------------------------


def gpt2_state(take: Take) -> dict[str, torch.Tensor]:
    embeddings = take("transformer.wte.weight")
    state = {
        "model.decoder.embed_tokens.weight": embeddings,
        "model.decoder.embed_positions.weight": take("transformer.wpe.weight"),
        "lm_head.weight": take("lm_head.weight"),  # tied to wte
        **renamed(take, "transformer", "model.decoder", {"ln_f": "final_layer_norm"}),
    }
    for i in range(L):
        hf, our = f"transformer.h.{i}", f"model.decoder.layers.{i}"
        state |= renamed(take, hf, our, {"ln_1": "self_attn_layer_norm", "ln_2": "final_layer_norm"})
        # Conv1D computes x @ W + b with W (in, out): an nn.Linear holds W.T; c_attn fuses q, k, v along `out`
        q, k, v = take(f"{hf}.attn.c_attn.weight").split(C, dim=1)  # 3 x (C, C)
        q_bias, k_bias, v_bias = take(f"{hf}.attn.c_attn.bias").split(C)  # 3 x (C,)
        for name, weight, bias in (("q_proj", q, q_bias), ("k_proj", k, k_bias), ("v_proj", v, v_bias)):
            state[f"{our}.self_attn.{name}.weight"], state[f"{our}.self_attn.{name}.bias"] = weight.T, bias
        for theirs, ours in (("attn.c_proj", "self_attn.o_proj"), ("mlp.c_fc", "fc1"), ("mlp.c_proj", "fc2")):
            state[f"{our}.{ours}.weight"] = take(f"{hf}.{theirs}.weight").T  # (out, in)
            state[f"{our}.{ours}.bias"] = take(f"{hf}.{theirs}.bias")
    return state


# `gelu_pytorch_tanh` is GPT-2's `gelu_new` (the tanh approximation) as one fused kernel: the pretraining benchmark's
# transfuse decoder uses it, so it must give GPT-2's logits too
@pytest.mark.parametrize("hidden_act", ["gelu_new", "gelu_pytorch_tanh"])
def test_pre_norm_decoder_matches_gpt2(hidden_act):
    torch.manual_seed(0)
    gpt2 = perturbed(
        GPT2LMHeadModel(
            GPT2Config(
                vocab_size=V,
                n_embd=C,
                n_layer=L,
                n_head=H,
                n_inner=FFN,
                n_positions=P,
                activation_function="gelu_new",
                layer_norm_epsilon=1e-5,
                **SPECIAL_IDS,
            )
        )
    )
    config = get_preset(
        "tiny",
        "decoder",
        pre_norm=True,
        scale_embedding=False,
        hidden_act=hidden_act,
        layer_norm_eps=1e-5,
        position_embedding_type="learned",
        **SPECIAL_IDS,
    )
    ours = load_strictly(TransfuseForCausalLM(config), convert(gpt2, gpt2_state))
    input_ids = token_ids(2, 12)
    with torch.no_grad():
        assert_logits_match(ours(input_ids=input_ids).logits, gpt2(input_ids=input_ids).logits)


# ---- BART -----------------------------------------------------------------------------------------------------

BART_LAYER = {
    "self_attn.q_proj": "self_attn.q_proj",
    "self_attn.k_proj": "self_attn.k_proj",
    "self_attn.v_proj": "self_attn.v_proj",
    "self_attn.out_proj": "self_attn.o_proj",
    "self_attn_layer_norm": "self_attn_layer_norm",
    "fc1": "fc1",
    "fc2": "fc2",
    "final_layer_norm": "final_layer_norm",
}
BART_CROSS_ATTENTION = {
    "encoder_attn.q_proj": "cross_attn.q_proj",
    "encoder_attn.k_proj": "cross_attn.k_proj",
    "encoder_attn.v_proj": "cross_attn.v_proj",
    "encoder_attn.out_proj": "cross_attn.o_proj",
    "encoder_attn_layer_norm": "cross_attn_layer_norm",
}
BART_POSITION_OFFSET = 2  # BartLearnedPositionalEmbedding looks up position + 2


def bart_state(take: Take) -> dict[str, torch.Tensor]:
    shared = take("model.shared.weight")
    for tied in ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"):
        take(tied)  # all three are the shared table
    state = {"model.encoder.embed_tokens.weight": shared, "lm_head.weight": shared}
    assert not take("final_logits_bias").any(), "a non-zero final_logits_bias has no transfuse counterpart"
    for stack in ("encoder", "decoder"):
        state[f"model.{stack}.embed_positions.weight"] = take(f"model.{stack}.embed_positions.weight")[
            BART_POSITION_OFFSET:
        ]  # (P, C)
        state |= renamed(take, f"model.{stack}", f"model.{stack}", {"layernorm_embedding": "embed_layer_norm"})
        for i in range(L):
            names = BART_LAYER | (BART_CROSS_ATTENTION if stack == "decoder" else {})
            state |= renamed(take, f"model.{stack}.layers.{i}", f"model.{stack}.layers.{i}", names)
    return state


def test_post_norm_encoder_decoder_matches_bart():
    torch.manual_seed(0)
    bart = perturbed(
        BartForConditionalGeneration(
            BartConfig(
                vocab_size=V,
                d_model=C,
                encoder_layers=L,
                decoder_layers=L,
                encoder_attention_heads=H,
                decoder_attention_heads=H,
                encoder_ffn_dim=FFN,
                decoder_ffn_dim=FFN,
                max_position_embeddings=P,
                activation_function="gelu",
                scale_embedding=True,
                decoder_start_token_id=2,
                forced_eos_token_id=None,
                **SPECIAL_IDS,
            )
        )
    )
    config = get_preset(
        "tiny",
        "encoder-decoder",
        pre_norm=False,
        scale_embedding=True,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        position_embedding_type="learned",
        **SPECIAL_IDS,
    )
    ours = load_strictly(TransfuseForConditionalGeneration(config), convert(bart, bart_state))
    input_ids, decoder_input_ids = token_ids(2, 9), token_ids(2, 6, seed=1)
    mask = torch.ones_like(input_ids)
    mask[1, 5:] = 0  # a right-padded source: the cross-attention must ignore its padding
    inputs = dict(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_input_ids)
    with torch.no_grad():
        assert_logits_match(ours(**inputs).logits, bart(**inputs).logits)
