"""The batches of each objective: text-infilling masks on a fixed example, masked-LM dynamic masking rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from transfuse.pretraining import (
    OBJECTIVES,
    DataCollatorForTextInfilling,
    infill_spans,
    random_spans_noise_mask,
)
from transfuse.pretraining.arguments import PretrainingArguments

MASK, PAD, BOS, EOS = 4, 0, 2, 3


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir: Path):
    return AutoTokenizer.from_pretrained(tokenizer_dir)


def test_infill_replaces_each_hidden_run_by_one_mask() -> None:
    ids = [2, 10, 11, 12, 13, 14, 15, 16, 3]
    hidden = [0, 0, 1, 1, 0, 1, 0, 1, 0]
    assert infill_spans(ids, hidden, MASK) == [2, 10, MASK, 13, MASK, 15, MASK, 3]
    assert infill_spans(ids, [0] * len(ids), MASK) == ids


@pytest.mark.parametrize("length", [2, 7, 20, 101])
def test_noise_mask_hides_the_exact_share_in_separate_spans(length: int) -> None:
    generator = torch.Generator().manual_seed(length)
    hidden = random_spans_noise_mask(length, noise_density=0.3, mean_span_length=3.0, generator=generator)
    n_hidden = min(max(round(length * 0.3), 1), length - 1)
    assert hidden.sum() == n_hidden and not hidden[0]  # the sequence opens with a kept span
    starts = np.flatnonzero(hidden & ~np.concatenate([[False], hidden[:-1]]))
    assert len(starts) == min(max(round(n_hidden / 3.0), 1), n_hidden, length - n_hidden)


def test_noise_mask_on_a_fixed_seed() -> None:
    hidden = random_spans_noise_mask(20, 0.3, 3.0, torch.Generator().manual_seed(0))
    assert hidden.astype(int).tolist() == [0] * 10 + [1, 1, 0, 0, 0, 0, 1, 1, 1, 1]


def test_text_infilling_batch_on_a_fixed_example(tokenizer) -> None:
    collator = DataCollatorForTextInfilling(tokenizer, noise_density=0.3, mean_noise_span_length=3.0, seed=0)
    block = [BOS, *range(10, 20), EOS, *range(20, 28)]  # a block holding a document boundary
    batch = collator([{"input_ids": block}, {"input_ids": block[:10]}])
    # 18 ordinary tokens -> 5 hidden in 2 spans; the specials (<s>, the separator </s>) are never hidden
    assert batch["input_ids"].tolist() == [
        [BOS, 10, MASK, 12, 13, 14, 15, 16, 17, 18, 19, EOS, 20, 21, 22, 23, MASK],
        [BOS, 10, 11, 12, 13, 14, 15, MASK] + [PAD] * 9,
    ]
    assert batch["attention_mask"].sum(1).tolist() == [17, 8]
    assert batch["labels"][0].tolist() == block  # the decoder writes the original block out
    assert batch["labels"][1].tolist() == block[:10] + [-100] * 10


def test_masked_lm_collator_masks_15_percent_80_10_10(tokenizer) -> None:
    torch.manual_seed(0)
    collator = OBJECTIVES["encoder"].build_collator(tokenizer, PretrainingArguments())
    block = [BOS] + [int(t) for t in torch.randint(5, len(tokenizer), (255,))]
    block[100] = EOS
    batch = collator([{"input_ids": block} for _ in range(64)])
    inputs, labels = batch["input_ids"], batch["labels"]
    original = torch.tensor(block).expand_as(inputs)
    selected = labels != -100
    assert (labels[selected] == original[selected]).all()
    assert not selected[:, 0].any() and not selected[:, 100].any()  # special tokens are never selected
    assert abs(selected.float().mean().item() - 0.15) < 0.01
    masked = (inputs == MASK) & selected
    kept = (inputs == original) & selected
    assert abs(masked.sum().item() / selected.sum().item() - 0.8) < 0.03
    assert abs(kept.sum().item() / selected.sum().item() - 0.1 - 0.1 / len(tokenizer)) < 0.03
    assert (inputs[~selected] == original[~selected]).all()
    assert not torch.equal(collator([{"input_ids": block}])["labels"], collator([{"input_ids": block}])["labels"])


def test_causal_lm_collator_labels_are_the_inputs_with_padding_ignored(tokenizer) -> None:
    collator = OBJECTIVES["decoder"].build_collator(tokenizer, PretrainingArguments())
    batch = collator([{"input_ids": [BOS, 10, 11, EOS, 12]}, {"input_ids": [BOS, 13]}])
    assert batch["labels"].tolist() == [[BOS, 10, 11, EOS, 12], [BOS, 13, -100, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1] * 5, [1, 1, 0, 0, 0]]
