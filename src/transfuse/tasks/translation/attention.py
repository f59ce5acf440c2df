"""The alignment picture: averaged cross-attention of the generated target tokens over the source tokens.

For each sentence the model first translates (with the decoding settings of its generation config), then reads
its own translation back teacher-forced with `output_attentions=True`: row t of a decoder layer's
cross-attention is what the decoder looked at while predicting target token t+1, so rows are labelled with the
generated tokens. The matrix averages every head of every decoder layer (shape: target tokens x source tokens);
`plot_cross_attention` draws one heat map per sentence into one PNG (matplotlib, headless Agg backend).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass
class Alignment:
    """One sentence: its source and generated target tokens and the (target x source) attention matrix."""

    source_tokens: list[str]
    target_tokens: list[str]
    matrix: np.ndarray  # (len(target_tokens), len(source_tokens)), rows sum to 1


def _token_texts(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    return [tokenizer.decode([int(token)]).strip() or tokenizer.convert_ids_to_tokens(int(token)) for token in ids]


@torch.no_grad()
def cross_attention(
    model: Any,
    tokenizer: Any,
    sources: Sequence[str],
    max_source_length: int,
    target_tokenizer: Any = None,
    **generate_kwargs: Any,
) -> list[Alignment]:
    """Translate each of `sources` and return its averaged cross-attention (see the module docstring); the
    generated tokens are labelled by `target_tokenizer` (default `tokenizer`: one shared vocabulary)."""
    target_tokenizer = tokenizer if target_tokenizer is None else target_tokenizer
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    alignments = []
    try:
        for text in sources:
            inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_source_length).to(device)
            generated = model.generate(**inputs, **generate_kwargs)  # (1, 1 + T): the start token, then T tokens
            decoder_input_ids = generated[:, :-1]  # row t predicts generated[t + 1]
            outputs = model(**inputs, decoder_input_ids=decoder_input_ids, output_attentions=True, use_cache=False)
            if not outputs.cross_attentions or outputs.cross_attentions[0] is None:
                raise ValueError(
                    f"{type(model).__name__} returns no cross-attentions; load it with attn_implementation='eager' "
                    "to draw --attention_plot"
                )
            stacked = torch.stack([layer.float() for layer in outputs.cross_attentions])  # (L, 1, nh, T, S)
            matrix = stacked.mean(dim=(0, 2))[0].cpu().numpy()  # (T, S)
            alignments.append(
                Alignment(
                    source_tokens=_token_texts(tokenizer, inputs["input_ids"][0].tolist()),
                    target_tokens=_token_texts(target_tokenizer, generated[0, 1:].tolist()),
                    matrix=matrix,
                )
            )
    finally:
        model.train(was_training)
    return alignments


def plot_cross_attention(alignments: Sequence[Alignment], path: str | Path) -> Path:
    """One heat map per sentence (source tokens across, generated tokens down) in one PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    columns = min(2, len(alignments)) or 1
    rows = max(1, math.ceil(len(alignments) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(6.5 * columns, 5.5 * rows), squeeze=False)
    for axis in axes.flat[len(alignments) :]:
        axis.axis("off")
    for index, (axis, alignment) in enumerate(zip(axes.flat, alignments), start=1):
        image = axis.imshow(alignment.matrix, cmap="viridis", vmin=0.0, aspect="auto")
        axis.set_xticks(range(len(alignment.source_tokens)), alignment.source_tokens, rotation=90, fontsize=7)
        axis.set_yticks(range(len(alignment.target_tokens)), alignment.target_tokens, fontsize=7)
        axis.set_xlabel("source tokens")
        axis.set_ylabel("generated tokens")
        axis.set_title(f"sentence {index}: cross-attention, mean of all heads and layers", fontsize=9)
        figure.colorbar(image, ax=axis, fraction=0.04)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


__all__ = ["Alignment", "cross_attention", "plot_cross_attention"]
