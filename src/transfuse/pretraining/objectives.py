"""One pretraining objective per architecture: the head that learns it, the collator that builds its batches.

* encoder -> masked LM (`AutoModelForMaskedLM`): `DataCollatorForLanguageModeling` re-masks every batch
  (dynamic masking, RoBERTa): 15% of ordinary tokens selected, of which 80% become `<mask>`, 10% a random
  token and 10% stay; the loss covers the selected tokens.
* decoder -> causal LM (`AutoModelForCausalLM`): labels are the inputs (the model shifts them), minus padding.
* encoder-decoder -> text infilling (`AutoModelForSeq2SeqLM`): `DataCollatorForTextInfilling`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    DataCollatorForLanguageModeling,
    PreTrainedTokenizerBase,
)

from ..modeling.heads import head_for
from .arguments import PretrainingArguments
from .denoising import DataCollatorForTextInfilling


@dataclass(frozen=True)
class Objective:
    """What an architecture learns from raw text: a name for logs, its Auto head class and its collator."""

    name: str
    auto_model_class: type
    build_collator: Callable[[PreTrainedTokenizerBase, PretrainingArguments], Callable]
    needs_mask_token: bool

    @property
    def pipeline_tag(self) -> str:
        """The Hub task type of the pretrained model (model card), from the heads table."""
        return head_for(self.auto_model_class).pipeline_tag

    def check_tokenizer(self, tokenizer: PreTrainedTokenizerBase, tokenizer_name: str) -> None:
        """Fail before training when the tokenizer lacks a token this objective writes into batches."""
        missing = [
            role
            for role, needed in (("pad_token", True), ("mask_token", self.needs_mask_token))
            if needed and getattr(tokenizer, role) is None
        ]
        if missing:
            raise ValueError(
                f"{self.name} needs a tokenizer with {' and '.join(missing)}, but {tokenizer_name!r} has "
                "none; train one with `transfuse tokenizer train` (it defines <pad> and <mask>) and pass it "
                "as --tokenizer_name."
            )


def _masked_lm_collator(tokenizer: PreTrainedTokenizerBase, args: PretrainingArguments) -> Callable:
    return DataCollatorForLanguageModeling(
        tokenizer,
        mlm=True,
        mlm_probability=args.mlm_probability,
        mask_replace_prob=args.mask_replace_prob,
        random_replace_prob=args.random_replace_prob,
    )


def _causal_lm_collator(tokenizer: PreTrainedTokenizerBase, args: PretrainingArguments) -> Callable:
    return DataCollatorForLanguageModeling(tokenizer, mlm=False)


def _text_infilling_collator(tokenizer: PreTrainedTokenizerBase, args: PretrainingArguments) -> Callable:
    return DataCollatorForTextInfilling(
        tokenizer, noise_density=args.noise_density, mean_noise_span_length=args.mean_noise_span_length
    )


OBJECTIVES: dict[str, Objective] = {
    "encoder": Objective("masked language modelling", AutoModelForMaskedLM, _masked_lm_collator, True),
    "decoder": Objective("causal language modelling", AutoModelForCausalLM, _causal_lm_collator, False),
    "encoder-decoder": Objective("text infilling", AutoModelForSeq2SeqLM, _text_infilling_collator, True),
}

__all__ = ["OBJECTIVES", "Objective"]
