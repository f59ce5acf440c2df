"""Generation with the KV cache: cached decoding must be exactly uncached decoding, batched must be per-prompt.

Covers the decoder (`TransfuseForCausalLM`) and the encoder-decoder (`TransfuseForConditionalGeneration`):
incremental logits vs one full forward (for every position type, with multi-token chunks after a cache
prefix), greedy and beam search with and without the cache, left-padded batches vs each prompt alone, and
seeded sampling.
"""

from __future__ import annotations

import pytest
import torch

from transfuse.modeling import TransfuseForCausalLM, TransfuseForConditionalGeneration, get_preset

from .common import FIRST_REAL_TOKEN_ID

VOCAB_SIZE = get_preset("tiny").vocab_size
MODEL_CLASSES = {"decoder": TransfuseForCausalLM, "encoder-decoder": TransfuseForConditionalGeneration}
NEW_TOKENS = 6


def build_generator(architecture: str, **overrides):
    """A tiny model whose greedy continuations vary with the prompt: with the default 0.02 init and tied
    embeddings, a random model repeats the prompt's last token (decoder) or ignores the source (seq2seq),
    which would make every comparison below pass trivially."""
    torch.manual_seed(0)
    config = get_preset("tiny", architecture, **{"tie_word_embeddings": False, "initializer_range": 0.2, **overrides})
    return MODEL_CLASSES[architecture](config).eval()


def random_ids(batch_size: int, length: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(FIRST_REAL_TOKEN_ID, VOCAB_SIZE, (batch_size, length), generator=generator)  # (B, T)


def generate(model, input_ids, attention_mask=None, **kwargs) -> torch.Tensor:
    """`generate` with a fixed number of new tokens (EOS suppressed), so batched and single runs align."""
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    with torch.no_grad():
        return model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            **kwargs,
        )


@pytest.mark.parametrize("position_embedding_type", ["learned", "sinusoidal", "rotary"])
@pytest.mark.parametrize("architecture", ["decoder", "encoder-decoder"])
def test_incremental_logits_match_a_full_forward(architecture, position_embedding_type):
    """Feeding the target in chunks through `cache=` gives the logits of one forward over the whole sequence."""
    model = build_generator(architecture, position_embedding_type=position_embedding_type)
    tokens = random_ids(2, 9)  # (B, T): the decoder's token sequence
    chunks = [3, 1, 2, 1, 2]  # a multi-token chunk after a prefix needs the causal mask offset by the cache
    encoder_kwargs = {}
    if architecture == "encoder-decoder":
        source, source_mask = random_ids(2, 7, seed=1), torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
        encoder_outputs = model.get_encoder()(input_ids=source, attention_mask=source_mask)
        encoder_kwargs = {"encoder_outputs": encoder_outputs, "attention_mask": source_mask}
    token_key = "decoder_input_ids" if architecture == "encoder-decoder" else "input_ids"
    with torch.no_grad():
        full = model(**{token_key: tokens}, **encoder_kwargs, use_cache=False).logits  # (B, T, V)
        cache, start = None, 0
        for size in chunks:
            step = model(**{token_key: tokens[:, start : start + size]}, **encoder_kwargs, cache=cache, use_cache=True)
            cache = step.cache
            torch.testing.assert_close(
                step.logits,
                full[:, start : start + size],
                atol=1e-5,
                rtol=0,
                msg=lambda m, start=start: f"chunk at position {start}: {m}",
            )
            start += size
    assert cache.get_seq_length() == tokens.shape[1]


@pytest.mark.parametrize("search", [{"num_beams": 1}, {"num_beams": 3}], ids=["greedy", "beam"])
@pytest.mark.parametrize("architecture", ["decoder", "encoder-decoder"])
def test_cached_and_uncached_generation_agree(architecture, search):
    model = build_generator(architecture)
    prompts = random_ids(2, 5)
    cached = generate(model, prompts, do_sample=False, use_cache=True, **search)
    uncached = generate(model, prompts, do_sample=False, use_cache=False, **search)
    assert cached.shape[1] >= NEW_TOKENS and len(set(cached[0, -NEW_TOKENS:].tolist())) > 1, "degenerate output"
    assert torch.equal(cached, uncached)


@pytest.mark.parametrize("architecture", ["decoder", "encoder-decoder"])
def test_padded_batch_generates_what_each_prompt_generates_alone(architecture):
    """Decoder prompts are left-padded (generation appends on the right); encoder inputs right-padded."""
    model = build_generator(architecture)
    lengths = [6, 3, 4]
    side = "left" if architecture == "decoder" else "right"
    prompts = [random_ids(1, n, seed=i)[0] for i, n in enumerate(lengths)]
    width = max(lengths)
    batch = torch.full((len(prompts), width), model.config.pad_token_id)  # (B, T)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)  # (B, T)
    for row, prompt in enumerate(prompts):
        columns = slice(width - len(prompt), width) if side == "left" else slice(0, len(prompt))
        batch[row, columns], mask[row, columns] = prompt, 1
    batched = generate(model, batch, mask, do_sample=False)
    continuations = {tuple(row) for row in batched[:, -NEW_TOKENS:].tolist()}
    assert len(continuations) == len(prompts), "each prompt should lead somewhere else"
    for row, prompt in enumerate(prompts):
        alone = generate(model, prompt[None], do_sample=False)
        new_batched, new_alone = batched[row, -NEW_TOKENS:], alone[0, -NEW_TOKENS:]
        assert torch.equal(new_batched, new_alone), f"prompt {row} ({side}-padded): {new_batched} vs {new_alone}"


@pytest.mark.parametrize("architecture", ["decoder", "encoder-decoder"])
def test_seeded_sampling_is_reproducible(architecture):
    model = build_generator(architecture)
    prompts = random_ids(2, 4)

    def sample(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return generate(model, prompts, do_sample=True, top_k=0, temperature=1.0)

    first = sample(7)
    assert torch.equal(first, sample(7))
    assert not torch.equal(first, sample(8)), "a different seed should sample differently"


def test_a_cached_decoding_step_on_cpu_attends_eagerly_and_agrees_with_sdpa():
    """One query per row on a CPU goes through the written-out matmuls (`choose_attention`: PyTorch's fused CPU
    kernel is several times slower there); longer queries keep SDPA, and asking for the probabilities or
    configuring eager always gives eager. The two paths agree on a decoding step."""
    from transfuse.modeling.modeling_transfuse import ATTENTION_FUNCTIONS, choose_attention

    one, many = torch.zeros(2, 4, 1, 8), torch.zeros(2, 4, 5, 8)
    assert choose_attention("sdpa", False, one) == "eager"
    assert choose_attention(None, False, one) == "eager"
    assert choose_attention("sdpa", False, many) == "sdpa"
    assert choose_attention("sdpa", True, many) == "eager"
    assert choose_attention("eager", False, many) == "eager"
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 1, 8), torch.randn(3, 2, 7, 8), torch.randn(3, 2, 7, 8)
    bias = torch.zeros(3, 1, 1, 7).masked_fill(torch.arange(7) >= 5, torch.finfo(torch.float32).min)
    eager, _ = ATTENTION_FUNCTIONS["eager"](q, k, v, bias, False, 0.0, 8**-0.5)
    sdpa, _ = ATTENTION_FUNCTIONS["sdpa"](q, k, v, bias, False, 0.0, 8**-0.5)
    torch.testing.assert_close(eager, sdpa)
