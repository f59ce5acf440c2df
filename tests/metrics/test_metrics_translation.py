"""translation_metrics: sacrebleu parity (single, multi and ragged references) and hand-checkable cases."""

from __future__ import annotations

import math

import pytest
import sacrebleu

from transfuse.metrics import translation_metrics

PREDS = ["the cat sat on the mat", "there is a dog in the garden", "he reads books"]
REFS_A = ["the cat sat on a mat", "a dog is in the garden", "he is reading a book"]
REFS_B = ["a cat was sitting on the mat", "there is a dog in the yard", "he reads books"]


def test_perfect_and_brevity_penalty_by_hand(assert_plain_json) -> None:
    out = translation_metrics(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert out["bleu"] == pytest.approx(100.0) and out["chrf"] == pytest.approx(100.0)
    assert out["brevity_penalty"] == 1.0
    # all n-gram precisions 100%, hypothesis 5 tokens vs reference 6: BP = exp(1 - 6/5)
    out = translation_metrics(["the cat sat on the"], ["the cat sat on the mat"])
    assert out["brevity_penalty"] == pytest.approx(math.exp(-0.2))
    assert out["bleu"] == pytest.approx(100 * math.exp(-0.2))
    assert (out["sys_len"], out["ref_len"]) == (5, 6)
    assert_plain_json(out)


def test_single_reference_equals_sacrebleu(assert_plain_json) -> None:
    out = translation_metrics(PREDS, REFS_A)
    assert out["bleu"] == pytest.approx(sacrebleu.corpus_bleu(PREDS, [REFS_A]).score)
    assert out["chrf"] == pytest.approx(sacrebleu.corpus_chrf(PREDS, [REFS_A]).score)
    assert out["precisions"] == pytest.approx(sacrebleu.corpus_bleu(PREDS, [REFS_A]).precisions)
    assert_plain_json(out)


def test_multiple_references_equal_sacrebleu_streams() -> None:
    per_example = [[a, b] for a, b in zip(REFS_A, REFS_B)]
    out = translation_metrics(PREDS, per_example)
    assert out["bleu"] == pytest.approx(sacrebleu.corpus_bleu(PREDS, [REFS_A, REFS_B]).score)
    assert out["chrf"] == pytest.approx(sacrebleu.corpus_chrf(PREDS, [REFS_A, REFS_B]).score)
    assert out["bleu"] > translation_metrics(PREDS, REFS_A)["bleu"]


def test_ragged_references() -> None:
    # Repeating a reference changes nothing in BLEU/chrF, so padding by repetition must agree with None-padding.
    ragged = [[REFS_A[0]], [REFS_A[1], REFS_B[1]], [REFS_A[2]]]
    repeated = [REFS_A, [REFS_A[0], REFS_B[1], REFS_A[2]]]
    out = translation_metrics(PREDS, ragged)
    assert out["bleu"] == pytest.approx(sacrebleu.corpus_bleu(PREDS, repeated).score)
    assert out["chrf"] == pytest.approx(sacrebleu.corpus_chrf(PREDS, repeated).score)


def test_options_and_errors() -> None:
    out = translation_metrics(["The Cat"], ["the cat"], lowercase=True)
    assert out["chrf"] == pytest.approx(100.0)
    chrfpp = translation_metrics(PREDS, REFS_A, chrf_word_order=2)["chrf"]
    assert chrfpp == pytest.approx(sacrebleu.corpus_chrf(PREDS, [REFS_A], word_order=2).score)
    with pytest.raises(ValueError, match="same length"):
        translation_metrics(PREDS, REFS_A[:2])
    with pytest.raises(ValueError, match="at least one reference"):
        translation_metrics(["x"], [[]])
    with pytest.raises(TypeError):
        translation_metrics("a sentence", "a sentence")


def test_signatures_and_mean_length_ratio() -> None:
    out = translation_metrics(["a b", "a b c d"], ["a b c d", "a b"])
    # sacrebleu's own signature strings: what a paper quotes to make the score reproducible
    assert out["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert out["chrf_signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:")
    assert "case:lc" in translation_metrics(["a"], ["a"], lowercase=True)["bleu_signature"]
    # per-sentence ratios 0.5 and 2.0: the mean is 1.25 while the corpus ratio is 1.0
    assert out["mean_length_ratio"] == pytest.approx(1.25)
    assert out["length_ratio"] == pytest.approx(1.0)
