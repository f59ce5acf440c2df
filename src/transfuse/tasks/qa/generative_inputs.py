"""What a generative QA model reads and writes, as token ids: shared by the `generative-qa` task and its pipelines.

* An encoder-decoder reads `question: Q context: C` (the tokenizer's usual special tokens around it) and its
  labels are the answer (`answer_labels`: the tokenizer's target ids, without a leading decoder start token,
  which the model puts in front itself).
* A decoder reads the prompt `context: C\\nquestion: Q\\nanswer:` as `transfuse generate` encodes prompts
  (`<s>` + the prompt's tokens, no closing `</s>`), followed in training by ` ANSWER</s>`; the labels are -100 on
  every prompt token, so the loss is on the answer only (`decoder_features`).

Both keep the question whole and truncate only the context (`fit_context`): the context is cut at a token
border of its own tokenization, then the whole text is tokenized again, so the ids are exactly those of the
text the model reads, and a pipeline given that text reads the same ids. A question that leaves no room for
any context is refused, naming the example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from ...data.collators import LABEL_PAD_ID
from ...data.validation import DataValidationError
from ...generation import encode_prompt


def seq2seq_text(question: str, context: str) -> str:
    """The encoder's input text."""
    return f"question: {question.strip()} context: {context.strip()}"


def decoder_prompt(question: str, context: str) -> str:
    """The decoder's prompt; the answer follows it after a space."""
    return f"context: {context.strip()}\nquestion: {question.strip()}\nanswer:"


@dataclass
class FittedInput:
    """The ids of one example's input, the number of context characters kept, and whether it was cut."""

    ids: list[int]
    context_chars: int
    truncated: bool


class QuestionTooLongError(DataValidationError):
    """The question (with the format's words) alone fills the model's input."""


def fit_context(
    tokenizer: PreTrainedTokenizerBase,
    encode: Callable[[str], list[int]],
    build: Callable[[str, str], str],
    question: str,
    context: str,
    limit: int,
    example: str = "",
) -> FittedInput:
    """`encode(build(question, context))`, with the context cut at a token border so the ids fit in `limit`."""
    ids = encode(build(question, context))
    if len(ids) <= limit:
        return FittedInput(ids, len(context), False)
    offsets = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    keep = len(offsets) - (len(ids) - limit)
    while keep > 0:
        kept = offsets[keep - 1][1]
        ids = encode(build(question, context[:kept]))
        if len(ids) <= limit:
            return FittedInput(ids, kept, True)
        keep -= len(ids) - limit
    raise QuestionTooLongError(
        f"{example or 'a question'}: the question alone takes {len(encode(build(question, '')))} of the "
        f"{limit} tokens the model reads, leaving no room for the context; shorten it or raise --max_seq_length."
    )


def seq2seq_input(
    tokenizer: PreTrainedTokenizerBase, question: str, context: str, limit: int, example: str = ""
) -> FittedInput:
    """The encoder's ids: `question: Q context: C` with the tokenizer's special tokens, at most `limit`."""
    return fit_context(
        tokenizer, lambda text: tokenizer(text)["input_ids"], seq2seq_text, question, context, limit, example
    )


def decoder_input(
    tokenizer: PreTrainedTokenizerBase, question: str, context: str, limit: int, example: str = ""
) -> FittedInput:
    """The decoder's prompt ids (`<s>` + prompt tokens), at most `limit`."""
    return fit_context(
        tokenizer,
        lambda text: encode_prompt(tokenizer, text, False),
        decoder_prompt,
        question,
        context,
        limit,
        example,
    )


def end_id(tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The token that ends an answer: eos, else sep (BERT-style vocabularies)."""
    return tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id


def answer_labels(tokenizer: PreTrainedTokenizerBase, answer: str, limit: int, decoder_start: int | None) -> list[int]:
    """An encoder-decoder's labels: the answer's target ids, the end token kept, at most `limit` tokens."""
    ids = tokenizer(text_target=answer.strip())["input_ids"]
    if decoder_start is not None and len(ids) > 1 and ids[0] == decoder_start:
        ids = ids[1:]  # [CLS] answer [SEP] with [CLS] as the start token: the model adds the start itself
    return ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:]


def decoder_features(
    tokenizer: PreTrainedTokenizerBase, prompt_ids: list[int], answer: str, limit: int
) -> tuple[list[int], list[int]]:
    """A decoder's training ids and labels: prompt + ` answer</s>` (at most `limit` answer tokens, the end
    token included); the labels mask the prompt with -100, so only the answer is learned."""
    answer_ids = tokenizer(" " + answer.strip(), add_special_tokens=False)["input_ids"][: max(limit - 1, 0)]
    end = end_id(tokenizer)
    if end is not None:
        answer_ids = [*answer_ids, end]
    return [*prompt_ids, *answer_ids], [LABEL_PAD_ID] * len(prompt_ids) + answer_ids


def strip_prompt(row: list[int], prompt: list[int], pad_id: int | None) -> list[int]:
    """The new tokens of a decoder's generated `row` (left padding + `prompt` + new tokens, then padding):
    everything after the first place where `prompt` follows only padding."""
    width = len(prompt)
    for start in range(len(row) - width + 1):
        if row[start : start + width] == prompt:
            return row[start + width :]
        if row[start] != pad_id:
            break
    raise RuntimeError("a generated sequence does not start with its prompt; decoders need left padding")


__all__ = [
    "FittedInput",
    "QuestionTooLongError",
    "answer_labels",
    "decoder_features",
    "decoder_input",
    "decoder_prompt",
    "end_id",
    "fit_context",
    "seq2seq_input",
    "seq2seq_text",
    "strip_prompt",
]
