"""Extractive QA features: question + context windows with character offsets, and the gold token spans.

A context longer than the window is cut into overlapping windows (`max_seq_length` tokens in all, consecutive
windows sharing `doc_stride` context tokens); only the context is truncated, the question is repeated in every
window. Each window keeps, per token, the character span it covers in the context (None for question and
special tokens), so that post-processing can cut answers out of the original text, and the index of the
example it came from.

Differences from `run_qa.py`'s `prepare_train_features` / `prepare_validation_features`:

* a slow (Python) tokenizer is refused up front with the reason: windows need `return_overflowing_tokens` and
  `offset_mapping`, which only the Rust ("fast") tokenizers give;
* a question too long to leave room for the stride fails with its id instead of a tokenizer panic;
* the windows are not padded here (the collator pads on the right, whatever the tokenizer's side, so that
  token positions in the logits are the positions in `offset_mapping`); a tokenizer that pads on the left
  (XLNet's convention) still gets the context first, as its model was pretrained;
* a training answer that no window holds whole (cut by every window border, or longer than a window) is never
  pointed at a wrong span: its windows are dropped and counted in `WindowReport`, which the task logs.
  Windows that simply do not contain the answer point at the null position, as in `run_qa.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedTokenizerBase

EXAMPLE_INDEX = "example_index"  # which example (row of the examples passed in) a window came from
OFFSETS = "offset_mapping"  # (start, end) characters of the context per token; None outside the context
NULL_INDEX = "null_index"  # the token whose start/end logits score "no answer" (the CLS token)
FEATURE_COLUMNS = (EXAMPLE_INDEX, OFFSETS, NULL_INDEX)


class QuestionTooLongError(ValueError):
    """A question that leaves no room for its context in a window."""


def check_fast_tokenizer(
    tokenizer: PreTrainedTokenizerBase,
    purpose: str = "Extractive question answering maps answers to tokens through character offsets and "
    "overlapping windows",
) -> None:
    """Refuse a slow tokenizer before any example is tokenized; `purpose` says what needs the fast one."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{purpose}, which needs a fast (Rust) tokenizer, but {type(tokenizer).__name__} is a slow one. Load "
            "the model's tokenizer with use_fast=True (the default), convert it "
            "(`transformers.convert_slow_tokenizer`), or name a fast tokenizer with --tokenizer_name."
        )


def question_first(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Question then context, except for tokenizers that pad on the left (their models read context first)."""
    return tokenizer.padding_side != "left"


def default_doc_stride(max_seq_length: int) -> int:
    """`run_qa.py`'s 128 at its 384 tokens: a third of the window."""
    return max(1, max_seq_length // 3)


@dataclass
class WindowReport:
    """How many examples and windows a split made, and which training answers no window holds."""

    examples: int = 0
    windows: int = 0
    answers_outside: list[str] = field(default_factory=list)  # example ids

    def summary(self, split: str) -> str:
        text = f"{split}: {self.examples} questions -> {self.windows} windows"
        if self.answers_outside:
            shown = ", ".join(map(repr, self.answers_outside[:5])) + (" ..." if len(self.answers_outside) > 5 else "")
            text += (
                f"; {len(self.answers_outside)} questions dropped from training because no window holds their "
                f"whole answer (ids {shown}): raise --max_seq_length or --doc_stride"
            )
        return text


def check_question_lengths(
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    ids: Sequence[str],
    max_seq_length: int,
    doc_stride: int,
) -> None:
    """Raise `QuestionTooLongError` naming the first question whose windows would hold fewer context tokens
    than the stride (the fast tokenizer cannot slide such a window)."""
    lengths = [len(ids_) for ids_ in tokenizer(list(questions), add_special_tokens=False)["input_ids"]]
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    for qid, length in zip(ids, lengths):
        room = max_seq_length - length - specials
        if room <= doc_stride:
            raise QuestionTooLongError(
                f"question id {qid!r} is {length} tokens long: with --max_seq_length {max_seq_length} its windows "
                f"hold {max(room, 0)} context tokens, not more than --doc_stride {doc_stride}. Raise "
                "--max_seq_length, lower --doc_stride, or shorten (or drop) the question."
            )


def tokenize_windows(
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    contexts: Sequence[str],
    max_seq_length: int,
    doc_stride: int,
) -> Any:
    """The windows of a batch of examples (a `BatchEncoding` with `overflow_to_sample_mapping` and offsets)."""
    questions = [question.lstrip() for question in questions]  # some SQuAD questions start with many spaces
    first = question_first(tokenizer)
    return tokenizer(
        questions if first else list(contexts),
        list(contexts) if first else questions,
        truncation="only_second" if first else "only_first",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def _context_offsets(encoding: Any, index: int, context_id: int) -> list[tuple[int, int] | None]:
    sequence_ids = encoding.sequence_ids(index)
    return [
        (int(span[0]), int(span[1])) if sequence_ids[k] == context_id else None
        for k, span in enumerate(encoding["offset_mapping"][index])
    ]


def _null_index(input_ids: Sequence[int], tokenizer: PreTrainedTokenizerBase) -> int:
    cls_id = tokenizer.cls_token_id
    return input_ids.index(cls_id) if cls_id is not None and cls_id in input_ids else 0


def gold_token_span(
    offsets: Sequence[tuple[int, int] | None], start_char: int, end_char: int
) -> tuple[int, int] | None:
    """The first and last token of the answer `[start_char, end_char)` in one window, or None when the window
    does not hold the whole answer."""
    positions = [k for k, span in enumerate(offsets) if span is not None]
    if not positions or offsets[positions[0]][0] > start_char or offsets[positions[-1]][1] < end_char:
        return None
    start = next(k for k in positions if offsets[k][1] > start_char)
    end = next(k for k in reversed(positions) if offsets[k][0] < end_char)
    return (start, end) if start <= end else None


def prepare_features(
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    contexts: Sequence[str],
    example_indices: Sequence[int],
    max_seq_length: int,
    doc_stride: int,
    answers: Sequence[dict[str, list]] | None = None,
    ids: Sequence[str] | None = None,
    report: WindowReport | None = None,
) -> dict[str, list]:
    """Windows of a batch of examples: `input_ids`, `attention_mask` (and `token_type_ids` where the model has
    them), `example_index`, `offset_mapping`, `null_index`; with `answers` (training) also `start_positions`
    and `end_positions`, the first answer's gold tokens (the null position where a window lacks it or the
    question is unanswerable), without the windows of answers no window holds (counted in `report`)."""
    ids = list(ids) if ids is not None else [str(i) for i in example_indices]
    check_question_lengths(tokenizer, questions, ids, max_seq_length, doc_stride)
    encoding = tokenize_windows(tokenizer, questions, contexts, max_seq_length, doc_stride)
    context_id = 1 if question_first(tokenizer) else 0
    samples = encoding.pop("overflow_to_sample_mapping")
    features: dict[str, list] = {key: [] for key in encoding if key != "offset_mapping"}
    features.update({EXAMPLE_INDEX: [], OFFSETS: [], NULL_INDEX: []})
    if answers is not None:
        features.update(start_positions=[], end_positions=[])
    spans: list[tuple[int, int] | None] = []
    for index, sample in enumerate(samples):
        offsets = _context_offsets(encoding, index, context_id)
        null = _null_index(encoding["input_ids"][index], tokenizer)
        for key in encoding:
            if key != "offset_mapping":
                features[key].append(encoding[key][index])
        features[EXAMPLE_INDEX].append(int(example_indices[sample]))
        features[OFFSETS].append(offsets)
        features[NULL_INDEX].append(null)
        if answers is not None:
            answer = answers[sample]
            span = None
            if answer["text"]:
                start_char = answer["answer_start"][0]
                span = gold_token_span(offsets, start_char, start_char + len(answer["text"][0]))
            spans.append(span)
            features["start_positions"].append(span[0] if span else null)
            features["end_positions"].append(span[1] if span else null)
    if report is not None:
        report.examples += len(questions)
    if answers is None:
        if report is not None:
            report.windows += len(samples)
        return features
    held = {samples[k] for k, span in enumerate(spans) if span is not None}
    lost = {s for s in range(len(questions)) if answers[s]["text"] and s not in held}
    keep = [k for k, sample in enumerate(samples) if sample not in lost]
    if report is not None:
        report.answers_outside += [ids[s] for s in sorted(lost)]
        report.windows += len(keep)
    return {key: [values[k] for k in keep] for key, values in features.items()}


__all__ = [
    "EXAMPLE_INDEX",
    "FEATURE_COLUMNS",
    "NULL_INDEX",
    "OFFSETS",
    "QuestionTooLongError",
    "WindowReport",
    "check_fast_tokenizer",
    "check_question_lengths",
    "default_doc_stride",
    "gold_token_span",
    "prepare_features",
    "question_first",
    "tokenize_windows",
]
