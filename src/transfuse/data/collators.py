"""Batch collators: dynamic padding of tokenized features, one factory per kind of target.

All three are the `transformers` collators; what is decided here is the padding policy shared by every task:
pad each batch to its longest sequence (never to a fixed length), rounded up to a multiple of 8 so that the
matrix shapes stay friendly to vectorised CPU kernels and GPU tensor cores, and pad label sequences with -100
so that padded positions never count in the loss.
"""

from __future__ import annotations

from transformers import (
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

PAD_TO_MULTIPLE_OF = 8
LABEL_PAD_ID = -100


def sequence_collator(tokenizer: PreTrainedTokenizerBase) -> DataCollatorWithPadding:
    """One target per sequence (class id, multi-hot vector, float) or none: pad the inputs only."""
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE_OF)


def token_collator(tokenizer: PreTrainedTokenizerBase) -> DataCollatorForTokenClassification:
    """One target per token (tags, QA-style token labels): pad inputs, and labels with -100."""
    return DataCollatorForTokenClassification(
        tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, label_pad_token_id=LABEL_PAD_ID
    )


class Seq2SeqCollator(DataCollatorForSeq2Seq):
    """`DataCollatorForSeq2Seq` that leaves out `labels` for rows without targets (prediction) instead of returning
    `labels: None`, which `Seq2SeqTrainer` takes for labels (and then runs a loss pass that fails)."""

    def __call__(self, features, return_tensors=None):
        batch = super().__call__(features, return_tensors)
        if batch.get("labels", 0) is None:
            del batch["labels"]
        return batch


def seq2seq_collator(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel | None = None) -> Seq2SeqCollator:
    """Target sequences (translation, generative QA, denoising): pad labels with -100; with `model`, also build the
    shifted `decoder_input_ids` so that the model need not derive them from the labels."""
    return Seq2SeqCollator(
        tokenizer, model=model, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, label_pad_token_id=LABEL_PAD_ID
    )


__all__ = [
    "LABEL_PAD_ID",
    "PAD_TO_MULTIPLE_OF",
    "Seq2SeqCollator",
    "seq2seq_collator",
    "sequence_collator",
    "token_collator",
]
