"""The transfuse Transformer, from torch primitives, as a `transformers` `PreTrainedModel`.

Reads top-down, like `modeling_bart.py` and nanoGPT's `model.py`:

1. primitives: positions (learned / sinusoidal / rotary) and attention masks;
2. attention: one `TransfuseAttention` (separate q/k/v/o projections) for self-, causal- and cross-attention,
   with SDPA vs eager chosen in one place (`choose_attention`);
3. `TransfuseLayer` (attention, optional cross-attention, feed-forward; pre- or post-norm residuals);
4. `TransfuseStack`: embeddings + layers, used as encoder or decoder;
5. `TransfusePreTrainedModel` and the backbone `TransfuseModel`;
6. thin task heads returning `ModelOutput` dataclasses.

Shapes: B batch, T query length, S key length, C hidden size, nh heads, hs head size (C = nh * hs).
This file imports only torch, transformers and its sibling config, so it can ship with a checkpoint and be
loaded with `trust_remote_code=True` where transfuse is not installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.loss.loss_utils import ForMaskedLMLoss
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    CausalLMOutputWithCrossAttentions,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from .configuration_transfuse import TransfuseConfig

# ---------------------------------------------------------------------------------------------------------
# 1. Primitives: positions and masks
# ---------------------------------------------------------------------------------------------------------


def _inverse_frequencies(dim: int, base: float, device: torch.device) -> torch.Tensor:
    return 1.0 / (base ** (torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim))  # (dim/2,)


def sinusoidal_positions(position_ids: torch.Tensor, dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Fixed sin/cos position encodings (Vaswani et al. 2017), sines in the first half of the channels."""
    angles = position_ids[..., None].float() * _inverse_frequencies(dim, 10000.0, position_ids.device)  # (B, T, C/2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1).to(dtype)  # (B, T, C)


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """`sinusoidal_positions` of 0..num_positions-1, as a (num_positions, C) float32 table: a stack looks its
    positions up instead of taking sin/cos of them at every forward (2.6 ms a stack per training step of the
    translation recipe against 0.06 ms for the lookup)."""
    return sinusoidal_positions(torch.arange(num_positions), dim, torch.float32)  # (P, C)


def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype):
    """cos/sin tables for rotary position embeddings (Su et al. 2021), computed for the given positions."""
    inverse_frequencies = _inverse_frequencies(head_dim, theta, position_ids.device)  # (hs/2,)
    freqs = position_ids[..., None].float() * inverse_frequencies  # (B, T, hs/2)
    angles = torch.cat([freqs, freqs], dim=-1)  # (B, T, hs)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


def apply_rotary(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    cos, sin = cos[:, None], sin[:, None]  # (B, 1, T, hs): broadcast over heads
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


def attention_bias(
    key_padding_mask: torch.Tensor | None,
    query_length: int,
    past_length: int,
    causal: bool,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """Additive attention bias (0 = attend, dtype-min = masked), or None when nothing needs masking.

    `key_padding_mask` (B, S) marks real keys with 1. A causal bias (1|B, 1, T, S) is built only when padding or
    a cache prefix rules out SDPA's own `is_causal` kernel; a padding-only bias is (B, 1, 1, S). A dtype-min
    bias, unlike a boolean mask, keeps fully masked rows (left-padding queries) finite under SDPA instead of NaN.
    """
    needs_causal_mask = causal and query_length > 1 and past_length > 0
    if key_padding_mask is None and not needs_causal_mask:
        return None
    if causal:
        key_length = past_length + query_length
        device = key_padding_mask.device if key_padding_mask is not None else None
        query_positions = torch.arange(past_length, key_length, device=device)[:, None]  # (T, 1)
        keep = (torch.arange(key_length, device=device)[None, :] <= query_positions)[None, None]  # (1, 1, T, S)
        if key_padding_mask is not None:
            keep = keep & key_padding_mask[:, None, None, -key_length:].bool()  # (B, 1, T, S)
    else:
        keep = key_padding_mask[:, None, None, :].bool()  # (B, 1, 1, S)
    return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, torch.finfo(dtype).min)


# ---------------------------------------------------------------------------------------------------------
# 2. Attention
# ---------------------------------------------------------------------------------------------------------


def eager_attention(q, k, v, bias, is_causal, dropout, scaling):
    """Attention written out, returning the probabilities too (for `output_attentions=True`)."""
    scores = torch.matmul(q, k.transpose(-2, -1)) * scaling  # (B, nh, T, S)
    if is_causal:
        T, S = scores.shape[-2:]
        future = torch.ones(T, S, dtype=torch.bool, device=q.device).triu(S - T + 1)
        scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
    if bias is not None:
        scores = scores + bias
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    return torch.matmul(F.dropout(probs, p=dropout), v), probs  # (B, nh, T, hs), (B, nh, T, S)


def sdpa_attention(q, k, v, bias, is_causal, dropout, scaling):
    """`torch.nn.functional.scaled_dot_product_attention`: fused kernels, no probabilities returned."""
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias, dropout_p=dropout, is_causal=is_causal, scale=scaling
    )
    return out, None  # (B, nh, T, hs)


ATTENTION_FUNCTIONS: dict[str, Callable] = {"eager": eager_attention, "sdpa": sdpa_attention}


def choose_attention(configured: str | None, output_attentions: bool, q: torch.Tensor) -> str:
    """The one place where the attention implementation is chosen: the config's (`attn_implementation`, default
    SDPA), eager when the probabilities are asked for, and eager for one query per row on a CPU (a cached
    decoding step), where PyTorch's fused CPU kernel is 2-10x slower than the two written-out matmuls
    (`benchmarks/bench_decode_attention.py`)."""
    if output_attentions:
        return "eager"
    implementation = configured if configured in ATTENTION_FUNCTIONS else "sdpa"
    if implementation == "sdpa" and q.shape[-2] == 1 and q.device.type == "cpu":
        return "eager"
    return implementation


class TransfuseAttention(nn.Module):
    """Multi-head scaled-dot-product attention with separate q/k/v/o projections.

    The same class serves all three roles: self-attention (`is_causal=False`), causal self-attention
    (`is_causal=True`) and cross-attention (`is_cross_attention=True`, keys/values from `key_value_states`).
    """

    def __init__(
        self, config: TransfuseConfig, layer_idx: int, is_causal: bool = False, is_cross_attention: bool = False
    ):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.is_causal = is_causal
        self.is_cross_attention = is_cross_attention
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=bias)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        return x.view(B, L, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, L, hs)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: Cache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, C = hidden_states.shape
        q = self._split_heads(self.q_proj(hidden_states))  # (B, nh, T, hs)

        if self.is_cross_attention:
            # keys/values come from the encoder; computed once per generation and then read from the cache
            layer_cache = cache.cross_attention_cache if cache is not None else None
            if cache is not None and cache.is_updated.get(self.layer_idx):
                k, v = layer_cache.layers[self.layer_idx].keys, layer_cache.layers[self.layer_idx].values
            else:
                k = self._split_heads(self.k_proj(key_value_states))  # (B, nh, S, hs)
                v = self._split_heads(self.v_proj(key_value_states))  # (B, nh, S, hs)
                if cache is not None:
                    k, v = layer_cache.update(k, v, self.layer_idx)
                    cache.is_updated[self.layer_idx] = True
        else:
            k = self._split_heads(self.k_proj(hidden_states))  # (B, nh, T, hs)
            v = self._split_heads(self.v_proj(hidden_states))  # (B, nh, T, hs)
            if rotary is not None:
                q, k = apply_rotary(q, k, *rotary)
            if cache is not None:
                layer_cache = cache.self_attention_cache if isinstance(cache, EncoderDecoderCache) else cache
                k, v = layer_cache.update(k, v, self.layer_idx)  # (B, nh, S, hs), S = past + T

        attend = ATTENTION_FUNCTIONS[choose_attention(self.config._attn_implementation, output_attentions, q)]
        is_causal = self.is_causal and bias is None and T > 1
        dropout = self.config.attention_dropout if self.training else 0.0
        out, probs = attend(q, k, v, bias, is_causal, dropout, self.scaling)
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, C): re-assemble the heads side by side
        return self.o_proj(out), probs


# ---------------------------------------------------------------------------------------------------------
# 3. Layer
# ---------------------------------------------------------------------------------------------------------


class TransfuseLayer(GradientCheckpointingLayer):
    """Self-attention, optional cross-attention, feed-forward; each wrapped in dropout + residual + LayerNorm,
    with the LayerNorm before the sub-layer (`pre_norm`) or after the residual sum (original Transformer)."""

    def __init__(self, config: TransfuseConfig, layer_idx: int, is_decoder: bool, has_cross_attention: bool):
        super().__init__()
        C, eps = config.hidden_size, config.layer_norm_eps
        self.pre_norm = config.pre_norm
        self.self_attn = TransfuseAttention(config, layer_idx, is_causal=is_decoder)
        self.self_attn_layer_norm = nn.LayerNorm(C, eps=eps)
        if has_cross_attention:
            self.cross_attn = TransfuseAttention(config, layer_idx, is_cross_attention=True)
            self.cross_attn_layer_norm = nn.LayerNorm(C, eps=eps)
        self.fc1 = nn.Linear(C, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(config.intermediate_size, C)
        self.final_layer_norm = nn.LayerNorm(C, eps=eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.residual_writers = [self.self_attn.o_proj, self.fc2]
        if has_cross_attention:
            self.residual_writers.append(self.cross_attn.o_proj)

    def _residual(self, x: torch.Tensor, norm: nn.LayerNorm, sublayer: Callable) -> tuple[torch.Tensor, object]:
        out, extra = sublayer(norm(x) if self.pre_norm else x)
        x = x + self.dropout(out)
        return (x if self.pre_norm else norm(x)), extra

    def _feed_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        # no dropout on the (B, T, intermediate) activations: as in the original Transformer, BERT and GPT-2,
        # dropout sits on the residual branches only (and a 4x wider dropout costs ~5% of a CPU training step)
        return self.fc2(self.act(self.fc1(x))), None

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
        encoder_bias: torch.Tensor | None = None,
        rotary: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: Cache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        hidden_states, self_probs = self._residual(
            hidden_states,
            self.self_attn_layer_norm,
            lambda x: self.self_attn(x, bias=bias, rotary=rotary, cache=cache, output_attentions=output_attentions),
        )
        cross_probs = None
        if encoder_hidden_states is not None:
            hidden_states, cross_probs = self._residual(
                hidden_states,
                self.cross_attn_layer_norm,
                lambda x: self.cross_attn(
                    x,
                    key_value_states=encoder_hidden_states,
                    bias=encoder_bias,
                    cache=cache,
                    output_attentions=output_attentions,
                ),
            )
        hidden_states, _ = self._residual(hidden_states, self.final_layer_norm, self._feed_forward)
        return hidden_states, self_probs, cross_probs


# ---------------------------------------------------------------------------------------------------------
# 4. Stack: embeddings + layers (an encoder or a decoder)
# ---------------------------------------------------------------------------------------------------------


class TransfuseStack(nn.Module):
    """Token embedding x sqrt(d) + positions, then `TransfuseLayer`s.

    An encoder stack attends bidirectionally; a decoder stack causally, and cross-attends to
    `encoder_hidden_states` when built with `has_cross_attention`. Post-norm stacks normalise the embeddings
    (as BERT/BART do); pre-norm stacks normalise the output (as GPT-2 does). A stack owns a token embedding of
    `vocab_size` rows; `vocab_size=None` builds none: the decoder of an encoder-decoder with one shared vocabulary
    receives embeddings from the encoder's table (with `decoder_vocab_size`, it owns a table of that size).
    """

    def __init__(
        self,
        config: TransfuseConfig,
        is_decoder: bool,
        has_cross_attention: bool,
        num_layers: int,
        vocab_size: int | None,
    ):
        super().__init__()
        self.config = config
        self.is_decoder = is_decoder
        C = config.hidden_size
        self.embed_scale = math.sqrt(C) if config.scale_embedding else 1.0
        self.embed_tokens = None
        if vocab_size is not None:
            self.embed_tokens = nn.Embedding(vocab_size, C, padding_idx=config.pad_token_id)
        if config.position_embedding_type == "learned":
            self.embed_positions = nn.Embedding(config.max_position_embeddings, C)
        if config.position_embedding_type == "sinusoidal":  # fixed, so not saved (refilled by `_init_weights`)
            self.register_buffer("sinusoid_table", sinusoid_table(config.max_position_embeddings, C), persistent=False)
        self.embed_token_types = None  # BERT's segment embedding, when the config asks for one (never cross-attending)
        if not has_cross_attention and config.type_vocab_size:
            self.embed_token_types = nn.Embedding(config.type_vocab_size, C)
        self.embed_layer_norm = None if config.pre_norm else nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layers = nn.ModuleList(
            TransfuseLayer(config, i, is_decoder=is_decoder, has_cross_attention=has_cross_attention)
            for i in range(num_layers)
        )
        # scaled residual init (`_init_weights`): each projection that adds into the residual stream knows how many
        # such additions the stack makes (2 per layer, 3 with cross-attention)
        writers = [projection for layer in self.layers for projection in layer.residual_writers]
        for projection in writers:
            projection.residual_branches = len(writers)
        self.final_layer_norm = nn.LayerNorm(C, eps=config.layer_norm_eps) if config.pre_norm else None

    def _position_ids(self, attention_mask, batch_size, length, past_length, device) -> torch.Tensor:
        """Positions count real tokens only, so a left-padded row gets the same positions as the row alone."""
        if attention_mask is not None:
            return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -length:]  # (B, T)
        return torch.arange(past_length, past_length + length, device=device).expand(batch_size, length)  # (B, T)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPastAndCrossAttentions:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
        if inputs_embeds is None:
            if self.embed_tokens is None:
                raise ValueError("This stack shares its embeddings; pass `inputs_embeds` (see TransfuseModel).")
            inputs_embeds = self.embed_tokens(input_ids)  # (B, T, C)
        B, T, _ = inputs_embeds.shape

        if use_cache and self.is_decoder and cache is None:
            cache = (
                EncoderDecoderCache(DynamicCache(), DynamicCache())
                if encoder_hidden_states is not None
                else DynamicCache()
            )
        past_length = cache.get_seq_length() if cache is not None else 0
        if self.config.position_embedding_type != "rotary" and past_length + T > self.config.max_position_embeddings:
            raise ValueError(
                f"Sequence of {past_length + T} tokens is longer than max_position_embeddings="
                f"{self.config.max_position_embeddings}; truncate the inputs (e.g. --max_seq_length) or build "
                "the model with a larger max_position_embeddings."
            )
        if position_ids is None:
            position_ids = self._position_ids(attention_mask, B, T, past_length, inputs_embeds.device)

        hidden_states = inputs_embeds * self.embed_scale if self.embed_scale != 1.0 else inputs_embeds
        if self.embed_token_types is not None and token_type_ids is not None:
            hidden_states = hidden_states + self.embed_token_types(token_type_ids)  # (B, T, C)
        rotary = None
        if self.config.position_embedding_type == "learned":
            hidden_states = hidden_states + self.embed_positions(position_ids)
        elif self.config.position_embedding_type == "sinusoidal":
            hidden_states = hidden_states + self.sinusoid_table[position_ids].to(hidden_states.dtype)  # (B, T, C)
        else:
            rotary = rotary_cos_sin(position_ids, self.config.head_dim, self.config.rope_theta, hidden_states.dtype)
        if self.embed_layer_norm is not None:
            hidden_states = self.embed_layer_norm(hidden_states)
        hidden_states = self.dropout(hidden_states)

        padding = attention_mask if attention_mask is not None and not bool(attention_mask.all()) else None
        bias = attention_bias(padding, T, past_length, self.is_decoder, hidden_states.dtype)
        encoder_bias = None
        encoder_padded = encoder_attention_mask is not None and not encoder_attention_mask.all()
        if encoder_hidden_states is not None and encoder_padded:
            encoder_bias = attention_bias(encoder_attention_mask, T, 0, False, hidden_states.dtype)

        all_hidden_states = [] if output_hidden_states else None
        all_self_attentions = [] if output_attentions else None
        all_cross_attentions = [] if output_attentions and encoder_hidden_states is not None else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            # tensors that need gradients go positionally: reentrant gradient checkpointing tracks only those
            hidden_states, self_probs, cross_probs = layer(
                hidden_states,
                encoder_hidden_states,
                bias=bias,
                encoder_bias=encoder_bias,
                rotary=rotary,
                cache=cache,
                output_attentions=bool(output_attentions),
            )
            if output_attentions:
                all_self_attentions.append(self_probs)
                if all_cross_attentions is not None:
                    all_cross_attentions.append(cross_probs)
        if self.final_layer_norm is not None:
            hidden_states = self.final_layer_norm(hidden_states)
        if output_hidden_states:
            all_hidden_states.append(hidden_states)

        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states,
            cache=cache if use_cache else None,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_self_attentions) if output_attentions else None,
            cross_attentions=tuple(all_cross_attentions) if all_cross_attentions is not None else None,
        )


# ---------------------------------------------------------------------------------------------------------
# 5. PreTrainedModel and backbone
# ---------------------------------------------------------------------------------------------------------


class TransfusePreTrainedModel(PreTrainedModel):
    config_class = TransfuseConfig
    config: TransfuseConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["TransfuseLayer"]
    _supports_sdpa = True
    _keys_to_ignore_on_load_unexpected = [r"^model\.decoder\."]  # seq2seq checkpoints loaded into encoder heads

    def _init_weights(self, module: nn.Module) -> None:
        """The library default (linears and embeddings ~ N(0, initializer_range), LayerNorms at identity), plus
        GPT-2's scaled residual init for pre-norm stacks: the projections that write into the residual stream
        (`o_proj`, `fc2`, marked with their stack's `residual_branches`: 2 per layer, 3 with cross-attention) start
        at std / sqrt(residual_branches), so the un-normalised residual sum does not grow with depth. A stack's
        fixed sinusoid table, a buffer that checkpoints do not hold, is recomputed."""
        if isinstance(module, TransfuseStack) and hasattr(module, "sinusoid_table"):
            init.copy_(module.sinusoid_table, sinusoid_table(*module.sinusoid_table.shape))
        elif self.config.pre_norm and hasattr(module, "residual_branches"):
            std = self.config.initializer_range / math.sqrt(module.residual_branches)
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        else:
            super()._init_weights(module)


class TransfuseModel(TransfusePreTrainedModel):
    """The bare Transformer: an encoder, a decoder, or both (by `config.architecture`).

    Task heads on an encoder-decoder that need no decoder (classification, QA, tagging) build it with
    `with_decoder=False` and run the encoder alone; its weights keep the same names, so a seq2seq
    checkpoint loads into them.
    """

    def __init__(self, config: TransfuseConfig, with_decoder: bool = True):
        super().__init__(config)
        arch = config.architecture
        one_stack = dict(has_cross_attention=False, num_layers=config.num_hidden_layers, vocab_size=config.vocab_size)
        if arch in ("encoder", "encoder-decoder"):
            self.encoder = TransfuseStack(config, is_decoder=False, **one_stack)
        if arch == "decoder":
            self.decoder = TransfuseStack(config, is_decoder=True, **one_stack)
        if arch == "encoder-decoder" and with_decoder:
            self.decoder = TransfuseStack(
                config,
                is_decoder=True,
                has_cross_attention=True,
                num_layers=config.num_decoder_layers,
                vocab_size=config.decoder_vocab_size,  # None: one shared vocabulary, the encoder's table
            )
        self.post_init()

    @property
    def is_seq2seq(self) -> bool:
        return hasattr(self, "encoder") and hasattr(self, "decoder")

    def _first_stack(self) -> TransfuseStack:
        return self.encoder if hasattr(self, "encoder") else self.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self._first_stack().embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self._first_stack().embed_tokens = value

    def get_decoder_input_embeddings(self) -> nn.Embedding:
        """The table the decoder reads: its own (`decoder_vocab_size`, separate vocabularies), else the shared one.
        (Marian's method of this name raises for a shared table; this one returns it.)"""
        return self.decoder.embed_tokens if self.decoder.embed_tokens is not None else self.get_input_embeddings()

    def set_decoder_input_embeddings(self, value: nn.Embedding) -> None:
        if self.decoder.embed_tokens is None:
            raise ValueError(
                "The decoder reads the shared (encoder) embedding table; set it with set_input_embeddings, or build "
                "the model with decoder_vocab_size for a decoder vocabulary of its own."
            )
        self.decoder.embed_tokens = value

    def get_encoder(self, modality: str | None = None):
        return self.encoder if hasattr(self, "encoder") else self

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: tuple | BaseModelOutput | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPastAndCrossAttentions | Seq2SeqModelOutput:
        flags = dict(output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        if not self.is_seq2seq:
            stack = self._first_stack()
            use_cache = (use_cache if use_cache is not None else self.config.use_cache) and stack.is_decoder
            return stack(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                inputs_embeds=inputs_embeds,
                token_type_ids=token_type_ids,
                cache=cache,
                use_cache=use_cache,
                **flags,
            )

        use_cache = use_cache if use_cache is not None else self.config.use_cache
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                inputs_embeds=inputs_embeds,
                token_type_ids=token_type_ids,
                **flags,
            )
        elif isinstance(encoder_outputs, tuple):
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        if decoder_inputs_embeds is None:
            if decoder_input_ids is None:
                raise ValueError("An encoder-decoder needs `decoder_input_ids` (or `labels` on the LM head).")
            decoder_inputs_embeds = self.get_decoder_input_embeddings()(decoder_input_ids)  # (B, T, C)
        decoder_outputs = self.decoder(
            inputs_embeds=decoder_inputs_embeds,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            cache=cache,
            use_cache=use_cache,
            **flags,
        )
        return Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            cache=decoder_outputs.cache,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )


# ---------------------------------------------------------------------------------------------------------
# 6. Heads
# ---------------------------------------------------------------------------------------------------------


def _require_architecture(config: TransfuseConfig, head: str, allowed: tuple[str, ...], hint: str) -> None:
    if config.architecture not in allowed:
        raise ValueError(f"{head} needs architecture in {allowed}, got architecture={config.architecture!r}. {hint}")


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Teacher forcing: decoder inputs are the labels moved one step right, starting with the start token."""
    shifted = labels.new_full(labels.shape, pad_token_id)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class TransfuseLMPredictionHead(nn.Module):
    """dense -> activation -> LayerNorm -> vocabulary projection (weight tied, own bias), as in BERT's MLM head.

    The per-token bias is the projection's own `bias` (not a separate parameter) so that
    `resize_token_embeddings` resizes it together with the tied weight.
    """

    def __init__(self, config: TransfuseConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(self.act(self.dense(hidden_states))))


class TransfuseForMaskedLM(TransfusePreTrainedModel):
    _tied_weights_keys = {"lm_head.decoder.weight": "model.encoder.embed_tokens.weight"}

    def __init__(self, config: TransfuseConfig):
        _require_architecture(
            config,
            "TransfuseForMaskedLM",
            ("encoder",),
            "Masked LM needs a bidirectional encoder; use TransfuseForCausalLM for decoders.",
        )
        super().__init__(config)
        self.model = TransfuseModel(config)
        self.lm_head = TransfuseLMPredictionHead(config)
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head.decoder

    def set_output_embeddings(self, value):
        self.lm_head.decoder = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> MaskedLMOutput:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden_states = outputs.last_hidden_state  # (B, T, C)
        if labels is not None and self.config.sparse_prediction:
            masked = labels.ne(-100)  # (B, T): only these positions enter the loss
            hidden_states, labels = hidden_states[masked], labels[masked]  # (N, C), (N,)
        logits = self.lm_head(hidden_states)  # (B, T, V), or (N, V) under sparse prediction
        loss = (
            None
            if labels is None
            else self.loss_function(
                logits, labels, self.config.vocab_size, num_items_in_batch=kwargs.get("num_items_in_batch")
            )
        )
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class _GeneratingHead(TransfusePreTrainedModel, GenerationMixin):
    """Shared plumbing of the two generating heads: the backbone and a bias-free projection onto the vocabulary the
    decoder writes, tied to the table the decoder reads (`_tied_weights_keys`), for the architecture each accepts
    (`_accepts`: the allowed architectures and what to use instead)."""

    _accepts: tuple[tuple[str, ...], str]

    def __init__(self, config: TransfuseConfig):
        _require_architecture(config, type(self).__name__, *self._accepts)
        super().__init__(config)
        self.model = TransfuseModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.output_vocab_size, bias=False)
        if config.decoder_vocab_size is not None:  # separate vocabularies: the decoder's own table (as Marian's)
            self._tied_weights_keys = {"lm_head.weight": "model.decoder.embed_tokens.weight"}
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value


class TransfuseForCausalLM(_GeneratingHead):
    _tied_weights_keys = {"lm_head.weight": "model.decoder.embed_tokens.weight"}
    _accepts = (("decoder",), "Use TransfuseForConditionalGeneration for an encoder-decoder.")

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        cache=None,
        inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> CausalLMOutputWithCrossAttentions:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden_states = outputs.last_hidden_state
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]  # (B, k, C): generation needs the last step only
        logits = self.lm_head(hidden_states)  # (B, T, V)
        loss = (
            None
            if labels is None
            else self.loss_function(
                logits, labels, self.config.vocab_size, num_items_in_batch=kwargs.get("num_items_in_batch")
            )
        )
        return CausalLMOutputWithCrossAttentions(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class TransfuseForConditionalGeneration(_GeneratingHead):
    _tied_weights_keys = {"lm_head.weight": "model.encoder.embed_tokens.weight"}
    _accepts = (("encoder-decoder",), "Use TransfuseForCausalLM for a decoder-only model.")

    def get_encoder(self, modality: str | None = None):
        return self.model.encoder

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    # With separate vocabularies (`decoder_vocab_size`), as in Marian: `resize_token_embeddings` resizes the source
    # (encoder) vocabulary alone, `resize_decoder_token_embeddings` the target one (decoder table + output layer).

    def _resize_token_embeddings(self, new_num_tokens, pad_to_multiple_of=None, mean_resizing=True):
        if self.config.decoder_vocab_size is None:  # one shared table: resized with the output layer tied to it
            return super()._resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        old = self.get_input_embeddings()
        new = self._get_resized_embeddings(old, new_num_tokens, pad_to_multiple_of, mean_resizing)
        new.requires_grad_(old.weight.requires_grad)
        self.set_input_embeddings(new)
        return self.get_input_embeddings()

    def resize_decoder_token_embeddings(
        self, new_num_tokens: int, pad_to_multiple_of: int | None = None, mean_resizing: bool = True
    ) -> nn.Embedding:
        """Resize the target vocabulary of a model with separate vocabularies: the decoder's table and the output
        layer (tied to it, or resized alongside), and `config.decoder_vocab_size`."""
        if self.config.decoder_vocab_size is None:
            raise ValueError(
                "This model has one vocabulary shared by encoder and decoder (decoder_vocab_size=None); resize it "
                "with resize_token_embeddings."
            )
        old = self.model.get_decoder_input_embeddings()
        new = self._get_resized_embeddings(old, new_num_tokens, pad_to_multiple_of, mean_resizing)
        new.requires_grad_(old.weight.requires_grad)
        self.model.set_decoder_input_embeddings(new)
        size = new.weight.shape[0]
        self.set_output_embeddings(self._get_resized_lm_head(self.lm_head, size, mean_resizing=mean_resizing))
        self.config.decoder_vocab_size = size
        self.tie_weights()
        return new

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        decoder_input_ids=None,
        decoder_attention_mask=None,
        encoder_outputs=None,
        cache=None,
        inputs_embeds=None,
        decoder_inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            cache=cache,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.lm_head(outputs.last_hidden_state)  # (B, T, V), V = the decoder's vocabulary
        # labels are aligned with the decoder outputs (already shifted), so no further shift: the masked-LM loss
        loss = (
            None
            if labels is None
            else ForMaskedLMLoss(
                logits,
                labels.contiguous(),
                self.config.output_vocab_size,
                num_items_in_batch=kwargs.get("num_items_in_batch"),
            )
        )
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )


class _EncoderTaskHead(TransfusePreTrainedModel):
    """Shared plumbing of the understanding heads: run the backbone (the encoder alone for a seq2seq config)."""

    # Their losses are batch means that ignore the Trainer's `num_items_in_batch`. Saying so keeps the Trainer
    # averaging them itself; otherwise it skips that and scales the loss by the world size (DDP) and by the number
    # of gradient-accumulation steps, i.e. gradients N times too large.
    accepts_loss_kwargs = False

    def __init__(self, config: TransfuseConfig):
        super().__init__(config)
        self.model = TransfuseModel(config, with_decoder=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)

    def _hidden_states(
        self,
        input_ids,
        attention_mask,
        position_ids,
        inputs_embeds,
        output_attentions,
        output_hidden_states,
        token_type_ids=None,
    ):
        return self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            token_type_ids=token_type_ids,
            use_cache=False,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )


class TransfuseForSequenceClassification(_EncoderTaskHead):
    """Pools the sequence (`config.classifier_pooling`: the first token of an encoder ([CLS]/<s>) and the last
    real token of a decoder by default, or the mean of the real tokens), then dense -> tanh -> dropout ->
    projection. Single-label, multi-label and regression by `config.problem_type`."""

    def __init__(self, config: TransfuseConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.pooling = config.classifier_pooling or ("last" if config.architecture == "decoder" else "first")
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _pool(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        if self.pooling == "first":
            return hidden_states[:, 0]  # (B, C)
        if attention_mask is None:
            return hidden_states.mean(1) if self.pooling == "mean" else hidden_states[:, -1]  # (B, C)
        if self.pooling == "mean":
            mask = attention_mask[..., None].to(hidden_states.dtype)  # (B, T, 1)
            return (hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, C)
        positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
        last = (attention_mask.long() * positions).argmax(-1)  # (B,): index of the last real token, any padding side
        return hidden_states[torch.arange(hidden_states.shape[0], device=hidden_states.device), last]  # (B, C)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        outputs = self._hidden_states(
            input_ids, attention_mask, position_ids, inputs_embeds, output_attentions, output_hidden_states
        )
        if attention_mask is None and input_ids is not None and self.config.pad_token_id is not None:
            attention_mask = input_ids.ne(self.config.pad_token_id)  # pool real tokens only, as HF heads do
        pooled = torch.tanh(self.dense(self.dropout(self._pool(outputs.last_hidden_state, attention_mask))))
        logits = self.classifier(self.dropout(pooled))  # (B, num_labels)
        loss = None if labels is None else self.loss_function(labels, logits, self.config)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class TransfuseForQuestionAnswering(_EncoderTaskHead):
    """Extractive QA: a start and an end logit for every token."""

    def __init__(self, config: TransfuseConfig):
        super().__init__(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        inputs_embeds=None,
        start_positions=None,
        end_positions=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        **kwargs,
    ) -> QuestionAnsweringModelOutput:
        outputs = self._hidden_states(
            input_ids, attention_mask, position_ids, inputs_embeds, output_attentions, output_hidden_states
        )
        logits = self.qa_outputs(outputs.last_hidden_state)  # (B, T, 2)
        start_logits, end_logits = (t.squeeze(-1).contiguous() for t in logits.split(1, dim=-1))  # (B, T) each
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = self.loss_function(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class TransfuseForTokenClassification(_EncoderTaskHead):
    """A label for every token (NER, SRL tags); `token_type_ids` reach the token-type embedding when the config has
    one (`type_vocab_size`, e.g. SRL's predicate indicator)."""

    def __init__(self, config: TransfuseConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        token_type_ids=None,
        **kwargs,
    ) -> TokenClassifierOutput:
        outputs = self._hidden_states(
            input_ids,
            attention_mask,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            token_type_ids,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))  # (B, T, num_labels)
        loss = None if labels is None else self.loss_function(logits, labels, self.config)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


__all__ = [
    "TransfusePreTrainedModel",
    "TransfuseModel",
    "TransfuseForMaskedLM",
    "TransfuseForCausalLM",
    "TransfuseForConditionalGeneration",
    "TransfuseForSequenceClassification",
    "TransfuseForQuestionAnswering",
    "TransfuseForTokenClassification",
]
