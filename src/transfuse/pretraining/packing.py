"""Tokenize documents once and pack them into fixed-length blocks: no padding, no token lost.

Layout: every document's tokens are followed by the separator (the eos/sep token); the documents are
concatenated and cut into blocks of `block_size` tokens, each opened by the start token (bos/cls), so a block
reads `<s> ...document... </s> ...next document...`. All blocks are full except the very last one, which keeps
the leftover tokens (so nothing is dropped; the collators pad that one block).

Map-style corpora are tokenized with `Dataset.map` (cached by `datasets`) and packed in one vectorised pass
over the Arrow column (`pack_dataset`); streaming corpora are tokenized lazily and packed by `iter_blocks`,
which carries leftovers across batches. Both produce exactly the same blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset, Features, IterableDataset, List, Value
from transformers import PreTrainedTokenizerBase

from .corpus import TEXT, Corpus

INPUT_IDS = "input_ids"
TOKEN_FEATURES = Features({INPUT_IDS: List(Value("int32"))})


def block_start_id(tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The token that opens every block: bos, else cls (BERT-style tokenizers), else none."""
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id


def separator_id(tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The token that closes every document: eos, else sep, else none."""
    return tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id


def tokenize_documents(texts: list[str], tokenizer: PreTrainedTokenizerBase) -> dict[str, list[list[int]]]:
    """Batched `map` function: `{"input_ids": [tokens + [separator], ...]}` without other special tokens."""
    encoded = tokenizer(texts, add_special_tokens=False, return_attention_mask=False, verbose=False)[INPUT_IDS]
    separator = separator_id(tokenizer)
    tail = [] if separator is None else [separator]
    return {INPUT_IDS: [ids + tail for ids in encoded]}


def tokenize_corpus(corpus: Corpus, tokenizer: PreTrainedTokenizerBase, num_proc: int | None = None) -> Corpus:
    """Tokenize every document once; map-style results are cached by `datasets` under the tokenizer's hash."""
    kwargs = dict(batched=True, input_columns=[TEXT], remove_columns=[TEXT], fn_kwargs={"tokenizer": tokenizer})
    if isinstance(corpus, IterableDataset):
        return corpus.map(tokenize_documents, **kwargs)
    return corpus.map(tokenize_documents, num_proc=num_proc, features=TOKEN_FEATURES, desc="Tokenizing", **kwargs)


def cut_blocks(tokens: np.ndarray, block_size: int, start_id: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Split a 1-D token array into full blocks `(n, block_size)` and the leftover (less than a block)."""
    step = block_size - (start_id is not None)  # corpus tokens per block
    n_full = len(tokens) // step
    body = tokens[: n_full * step].reshape(n_full, step)  # (n, step)
    if start_id is not None:
        body = np.concatenate([np.full((n_full, 1), start_id, dtype=tokens.dtype), body], axis=1)  # (n, block)
    return body, tokens[n_full * step :]


def _with_start(leftover: np.ndarray, start_id: int | None) -> np.ndarray:
    return leftover if start_id is None else np.concatenate([[start_id], leftover]).astype(leftover.dtype)


def iter_blocks(token_rows: Iterable[Sequence[int]], block_size: int, start_id: int | None) -> Iterator[list[int]]:
    """Pack a stream of token lists into blocks, carrying leftovers across rows; the last may be short."""
    leftover = np.zeros(0, dtype=np.int64)
    for row in token_rows:
        blocks, leftover = cut_blocks(
            np.concatenate([leftover, np.asarray(row, dtype=np.int64)]), block_size, start_id
        )
        yield from blocks.tolist()
    if len(leftover):
        yield _with_start(leftover, start_id).tolist()


def _pack_table(table: pa.Table, block_size: int, start_id: int | None) -> pa.Table:
    """`map` function over the whole tokenized table at once (Arrow format): flatten, cut, wrap as lists."""
    tokens = pc.list_flatten(table.column(INPUT_IDS)).to_numpy().astype(np.int32)
    blocks, leftover = cut_blocks(tokens, block_size, start_id)
    rows = [blocks.reshape(-1)] + ([_with_start(leftover, start_id)] if len(leftover) else [])
    lengths = [block_size] * len(blocks) + [len(rows[-1])] * bool(len(leftover))
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32)
    values = pa.array(np.concatenate(rows).astype(np.int32) if rows else np.zeros(0, np.int32))
    return pa.table({INPUT_IDS: pa.ListArray.from_arrays(pa.array(offsets), values)})


def pack_dataset(tokenized: Dataset, block_size: int, start_id: int | None) -> Dataset:
    """Pack a tokenized map-style dataset into blocks (one vectorised pass, cached by `datasets`)."""
    return (
        tokenized.with_format("arrow")
        .map(
            _pack_table,
            batched=True,
            batch_size=None,
            features=TOKEN_FEATURES,
            remove_columns=tokenized.column_names,
            fn_kwargs={"block_size": block_size, "start_id": start_id},
            desc=f"Packing into blocks of {block_size}",
        )
        .with_format(None)
    )


def _stream_blocks(tokenized: IterableDataset, block_size: int, start_id: int | None) -> Iterator[dict]:
    for block in iter_blocks((row[INPUT_IDS] for row in tokenized), block_size, start_id):
        yield {INPUT_IDS: block}


def pack_stream(tokenized: IterableDataset, block_size: int, start_id: int | None) -> IterableDataset:
    """Pack a tokenized streaming dataset into blocks, lazily."""
    return IterableDataset.from_generator(
        _stream_blocks,
        features=TOKEN_FEATURES,
        gen_kwargs={"tokenized": tokenized, "block_size": block_size, "start_id": start_id},
    )


def count_tokens(packed: Dataset) -> int:
    """Tokens held by a packed map-style dataset (start tokens included)."""
    return int(pc.sum(pc.list_value_length(packed.data.column(INPUT_IDS))).as_py() or 0)


def build_blocks(
    corpus: Corpus, tokenizer: PreTrainedTokenizerBase, block_size: int, num_proc: int | None = None
) -> Corpus:
    """Documents in, packed blocks out (`{"input_ids": [...]}` rows), map-style or streaming as the input."""
    tokenized = tokenize_corpus(corpus, tokenizer, num_proc)
    start_id = block_start_id(tokenizer)
    if isinstance(tokenized, IterableDataset):
        return pack_stream(tokenized, block_size, start_id)
    return pack_dataset(tokenized, block_size, start_id)


def require_one_full_block(blocks: Corpus, block_size: int, what: str) -> None:
    """Stop before training when the text does not fill one block: the model would never see a full block."""
    if isinstance(blocks, IterableDataset):
        first = next(iter(blocks), None)
        n_tokens = 0 if first is None else len(first[INPUT_IDS])
    else:
        n_tokens = count_tokens(blocks)
    if n_tokens < block_size:
        raise ValueError(
            f"the {what} text gives {n_tokens} tokens, less than one block of --block_size {block_size}; "
            "add text or lower --block_size."
        )


__all__ = [
    "INPUT_IDS",
    "block_start_id",
    "build_blocks",
    "count_tokens",
    "cut_blocks",
    "iter_blocks",
    "pack_dataset",
    "pack_stream",
    "require_one_full_block",
    "separator_id",
    "tokenize_corpus",
    "tokenize_documents",
]
