"""Machine-translation metrics: corpus BLEU and chrF computed by sacrebleu, offline.

``evaluate.load("sacrebleu")`` needs the Hub; sacrebleu itself does not, so :func:`translation_metrics`
calls ``sacrebleu.metrics.BLEU`` / ``CHRF`` directly and returns their corpus scores (0-100, sacrebleu's
scale) plus the BLEU details people usually log. Each score comes with its sacrebleu
signature (``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``), the string that makes a reported
score reproducible, and with the mean per-sentence length ratio, which shows a system that writes too short or
too long sentences even where the corpus brevity penalty hides it. The only work done here is reshaping
references:
callers give the reference(s) *of each prediction* (``references[i]`` belongs to ``predictions[i]``), while
sacrebleu wants reference *streams*; a varying number of references per prediction is padded with
``None``, which sacrebleu skips.

Tokenizers that need a download (``flores101``/``flores200`` SentencePiece models) or extra packages
(``ja-mecab``, ``ko-mecab``) do not work offline; the default ``13a`` and ``intl``/``char``/``zh``/``none`` do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

__all__ = ["mean_length_ratio", "translation_metrics"]


def _reference_streams(references: Sequence[str | Sequence[str]]) -> list[list[str | None]]:
    """Per-prediction references -> sacrebleu streams (``streams[k][i]`` = k-th reference of example i)."""
    per_example = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
    if any(len(refs) == 0 for refs in per_example):
        raise ValueError("every prediction needs at least one reference")
    n_streams = max(len(refs) for refs in per_example)
    return [[refs[k] if k < len(refs) else None for refs in per_example] for k in range(n_streams)]


def translation_metrics(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    tokenize: str | None = None,
    lowercase: bool = False,
    chrf_word_order: int = 0,
) -> dict[str, Any]:
    """Corpus-level sacreBLEU and chrF.

    Args:
        predictions: one detokenized hypothesis string per example.
        references: per example, one reference string or a list of references (counts may vary).
        tokenize: sacrebleu BLEU tokenizer (``None`` = sacrebleu's default, ``13a``).
        lowercase: case-insensitive scoring for both metrics.
        chrf_word_order: 0 for chrF (default), 2 for chrF++.

    Returns:
        ``{"bleu", "chrf", "brevity_penalty", "length_ratio", "mean_length_ratio", "precisions", "counts",
        "totals", "sys_len", "ref_len", "bleu_signature", "chrf_signature"}``; ``bleu``, ``chrf`` and the four
        n-gram ``precisions`` are on sacrebleu's 0-100 scale; ``brevity_penalty``, ``length_ratio`` (corpus
        hypothesis / reference tokens) and ``mean_length_ratio`` (the mean over sentences of hypothesis words /
        words of the sentence's first reference) are plain ratios.
    """
    if isinstance(predictions, str) or isinstance(references, str):
        raise TypeError("predictions and references must be sequences (one entry per example), not a string")
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
        )
    if len(predictions) == 0:
        raise ValueError("predictions and references are empty")
    hyps = list(predictions)
    streams = _reference_streams(references)

    bleu_metric = BLEU(tokenize=tokenize, lowercase=lowercase)
    chrf_metric = CHRF(word_order=chrf_word_order, lowercase=lowercase)
    bleu = bleu_metric.corpus_score(hyps, streams)
    chrf = chrf_metric.corpus_score(hyps, streams)
    return {
        "bleu": float(bleu.score),
        "chrf": float(chrf.score),
        "brevity_penalty": float(bleu.bp),
        "length_ratio": float(bleu.ratio),
        "mean_length_ratio": mean_length_ratio(hyps, streams[0]),
        "precisions": [float(p) for p in bleu.precisions],
        "counts": [int(c) for c in bleu.counts],
        "totals": [int(t) for t in bleu.totals],
        "sys_len": int(bleu.sys_len),
        "ref_len": int(bleu.ref_len),
        "bleu_signature": str(bleu_metric.get_signature()),
        "chrf_signature": str(chrf_metric.get_signature()),
    }


def mean_length_ratio(predictions: Sequence[str], references: Sequence[str | None]) -> float:
    """Mean over sentences of (words in the prediction) / (words in its reference); whitespace words, so the
    figure does not depend on a tokenizer. Sentences whose reference is empty or missing are left out."""
    ratios = [
        len(prediction.split()) / len(reference.split())
        for prediction, reference in zip(predictions, references)
        if reference and reference.split()
    ]
    return float(sum(ratios) / len(ratios)) if ratios else float("nan")
