"""Text infilling for encoder-decoder pretraining: hide spans of a block, reconstruct the whole block.

BART's objective (Lewis et al. 2020) with T5's span sampler (Raffel et al. 2020): `random_spans_noise_mask`
hides exactly `round(noise_density * n)` of a block's ordinary tokens in `round(hidden / mean_span_length)`
spans that never touch; `infill_spans` then replaces every hidden run by a single `<mask>`, so the encoder
sees `<s> the <mask> sat on <mask> .` and the decoder learns to write out the original block. Special tokens
(the block's `<s>`, document separators `</s>`) are never hidden.

`DataCollatorForTextInfilling` applies this per block and pads the batch: `input_ids`/`attention_mask`
(corrupted, right-padded) and `labels` (the original block, padded with -100). The model derives
`decoder_input_ids` from `labels` (shifted right behind the decoder start token).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100


def _random_segmentation(n_items: int, n_segments: int, generator: torch.Generator | None) -> np.ndarray:
    """Split `n_items` into `n_segments` non-empty parts of random lengths (uniformly over compositions)."""
    boundaries = (np.arange(n_items - 1) < (n_segments - 1))[torch.randperm(n_items - 1, generator=generator).numpy()]
    segment_ids = np.cumsum(np.concatenate([[0], boundaries]))  # (n_items,)
    return np.bincount(segment_ids, minlength=n_segments)  # (n_segments,)


def random_spans_noise_mask(
    length: int, noise_density: float, mean_span_length: float, generator: torch.Generator | None = None
) -> np.ndarray:
    """A boolean mask of `length` with `round(length * density)` hidden tokens in non-adjacent spans.

    The sequence alternates kept and hidden spans, starting with a kept one, as in T5's
    `random_spans_noise_mask`; lengths of each kind are a random composition of their totals. Randomness comes
    from `generator`, or torch's global generator when it is `None`.
    """
    if length < 2:
        return np.zeros(length, dtype=bool)
    n_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    n_spans = max(int(round(n_noise / mean_span_length)), 1)
    n_spans = min(n_spans, n_noise, length - n_noise)  # every span, hidden or kept, needs one token
    noise_lengths = _random_segmentation(n_noise, n_spans, generator)
    keep_lengths = _random_segmentation(length - n_noise, n_spans, generator)
    interleaved = np.stack([keep_lengths, noise_lengths], axis=1).reshape(-1)  # kept, hidden, kept, hidden, ...
    span_ids = np.repeat(np.arange(2 * n_spans), interleaved)  # (length,)
    return span_ids % 2 == 1


def infill_spans(input_ids: Sequence[int], noise_mask: Sequence[bool], mask_token_id: int) -> list[int]:
    """Replace every maximal run of hidden tokens by one `mask_token_id`; other tokens are kept, in order."""
    ids = np.asarray(input_ids)
    hidden = np.asarray(noise_mask, dtype=bool)
    run_starts = hidden & ~np.concatenate([[False], hidden[:-1]])
    out = np.where(run_starts, mask_token_id, ids)
    return out[~hidden | run_starts].tolist()


@dataclass
class DataCollatorForTextInfilling:
    """Corrupt packed blocks by span infilling and build seq2seq batches (see the module docstring).

    Args:
        tokenizer: supplies the mask, pad and special token ids.
        noise_density: share of a block's ordinary tokens to hide.
        mean_noise_span_length: mean hidden-span length in tokens.
        seed: seed of the collator's own generator; `None` uses torch's global generator (as
            `DataCollatorForLanguageModeling` does), which `transformers.set_seed` seeds, so runs repeat
            exactly. (A resumed run draws new spans: the Trainer restores the RNG only after fetching the
            first resumed batch; the blocks themselves continue exactly.)
    """

    tokenizer: PreTrainedTokenizerBase
    noise_density: float = 0.3
    mean_noise_span_length: float = 3.0
    seed: int | None = None
    pad_to_multiple_of: int | None = None
    generator: torch.Generator | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.tokenizer.mask_token_id is None or self.tokenizer.pad_token_id is None:
            raise ValueError(
                "text infilling needs a tokenizer with a mask and a pad token; train one with "
                "`transfuse tokenizer train` (it defines <mask> and <pad>)."
            )
        self._special_ids = np.array(sorted(set(self.tokenizer.all_special_ids)))
        if self.seed is not None:
            self.generator = torch.Generator().manual_seed(self.seed)

    def corrupt(self, block: Sequence[int]) -> list[int]:
        """The encoder input for one block: ordinary tokens hidden in spans, each span one `<mask>`."""
        ids = np.asarray(block)
        ordinary = np.flatnonzero(~np.isin(ids, self._special_ids))
        hidden = np.zeros(len(ids), dtype=bool)
        hidden[ordinary] = random_spans_noise_mask(
            len(ordinary), self.noise_density, self.mean_noise_span_length, self.generator
        )
        return infill_spans(ids, hidden, self.tokenizer.mask_token_id)

    def __call__(self, features: list[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        blocks = [list(f["input_ids"]) for f in features]
        batch = self.tokenizer.pad(
            {"input_ids": [self.corrupt(b) for b in blocks]},
            return_tensors="pt",
            pad_to_multiple_of=self.pad_to_multiple_of,
        )
        width = max(len(b) for b in blocks)
        labels = torch.full((len(blocks), width), IGNORE_INDEX, dtype=torch.long)  # (B, T)
        for row, block in enumerate(blocks):
            labels[row, : len(block)] = torch.tensor(block)
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "labels": labels}


__all__ = ["DataCollatorForTextInfilling", "infill_spans", "random_spans_noise_mask"]
