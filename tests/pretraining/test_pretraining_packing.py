"""Corpus loading and packing: one document per file, no token lost or padded, map-style == streaming, and
the input errors (bad UTF-8, empty file, missing column, corpus smaller than one block)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset, DatasetDict
from transformers import AutoTokenizer

from transfuse.pretraining import build_blocks, cut_blocks, iter_blocks, load_text_corpus, pack_dataset
from transfuse.pretraining.packing import INPUT_IDS, require_one_full_block

from .helpers import BLOCK_SIZE


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir: Path):
    return AutoTokenizer.from_pretrained(tokenizer_dir)


def test_cut_blocks_opens_each_block_with_the_start_token_and_keeps_the_leftover() -> None:
    blocks, leftover = cut_blocks(np.arange(10, 21), block_size=4, start_id=2)
    assert blocks.tolist() == [[2, 10, 11, 12], [2, 13, 14, 15], [2, 16, 17, 18]]
    assert leftover.tolist() == [19, 20]
    blocks, leftover = cut_blocks(np.arange(8), block_size=4, start_id=None)
    assert blocks.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and leftover.size == 0


def test_packing_loses_no_token_and_pads_nothing() -> None:
    rng = np.random.default_rng(0)
    rows = [rng.integers(5, 300, size=rng.integers(1, 40)).tolist() for _ in range(50)]
    blocks = list(iter_blocks(rows, block_size=16, start_id=2))
    assert all(len(block) == 16 for block in blocks[:-1]) and 1 < len(blocks[-1]) <= 16
    assert all(block[0] == 2 for block in blocks)
    assert [t for block in blocks for t in block[1:]] == [t for row in rows for t in row]
    # the map-style packer (one vectorised pass over the Arrow column) yields exactly the same blocks
    packed = pack_dataset(Dataset.from_dict({INPUT_IDS: rows}), block_size=16, start_id=2)
    assert packed[INPUT_IDS] == blocks


def test_files_become_documents_closed_by_eos_and_blocks_hold_every_token(corpus, tokenizer) -> None:
    documents = load_text_corpus(files=corpus["train"])
    assert len(documents) == len(corpus["train"])  # one document per file, blank lines dropped
    first_lines = [line for line in Path(corpus["train"][0]).read_text().splitlines() if line.strip()]
    assert documents[0]["text"] == "\n".join(first_lines)

    blocks = build_blocks(documents, tokenizer, BLOCK_SIZE)
    expected = []
    for text in documents["text"]:
        expected += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert [t for block in blocks[INPUT_IDS] for t in block[1:]] == expected
    assert {block[0] for block in blocks[INPUT_IDS]} == {tokenizer.bos_token_id}
    assert all(len(block) == BLOCK_SIZE for block in blocks[INPUT_IDS][:-1])

    streamed = build_blocks(load_text_corpus(files=corpus["train"], streaming=True), tokenizer, BLOCK_SIZE)
    assert [row[INPUT_IDS] for row in streamed] == blocks[INPUT_IDS]


def test_local_dataset_rows_are_documents(tmp_path: Path) -> None:
    DatasetDict(
        {"train": Dataset.from_dict({"body": ["first doc", "  ", None, "second doc"], "id": [1, 2, 3, 4]})}
    ).save_to_disk(tmp_path / "local")
    corpus = load_text_corpus(dataset_name=str(tmp_path / "local"), split="train", text_column="body")
    assert corpus.column_names == ["text"] and corpus["text"] == ["first doc", "second doc"]
    with pytest.raises(ValueError, match=r"no column 'content'.*\['body', 'id'\].*--text_column"):
        load_text_corpus(dataset_name=str(tmp_path / "local"), text_column="content")
    with pytest.raises(ValueError, match=r"no split 'validation'.*\['train'\]"):
        load_text_corpus(dataset_name=str(tmp_path / "local"), split="validation", text_column="body")


def test_hub_dataset_goes_through_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_load_dataset(name, config, streaming, cache_dir):
        calls.append((name, config, streaming))
        return DatasetDict({"train": Dataset.from_dict({"text": ["a document", ""]})})

    monkeypatch.setattr("datasets.load_dataset", fake_load_dataset)
    corpus = load_text_corpus(dataset_name="someone/corpus", dataset_config_name="en")
    assert calls == [("someone/corpus", "en", False)] and corpus["text"] == ["a document"]


def test_bad_utf8_names_file_and_byte_offset_or_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"good line\ncaf" + b"\xe9 au lait\n")
    with pytest.raises(ValueError, match=r"latin1\.txt.*0xe9 at byte offset 13.*--encoding_errors replace"):
        load_text_corpus(files=[str(path)])
    assert load_text_corpus(files=[str(path)], encoding_errors="replace")["text"] == ["good line\ncaf\ufffd au lait"]


def test_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.txt.*is empty"):
        load_text_corpus(files=[str(empty)])
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_text_corpus(files=[str(tmp_path / "missing.txt")])


def test_corpus_smaller_than_one_block_is_an_error(tmp_path: Path, tokenizer) -> None:
    path = tmp_path / "short.txt"
    path.write_text("the cat sees the river .\n", encoding="utf-8")
    blocks = build_blocks(load_text_corpus(files=[str(path)]), tokenizer, BLOCK_SIZE)
    with pytest.raises(
        ValueError,
        match=rf"training text gives \d+ tokens, less than one block of --block_size "
        rf"{BLOCK_SIZE}",
    ):
        require_one_full_block(blocks, BLOCK_SIZE, "training")
    streamed = build_blocks(load_text_corpus(files=[str(path)], streaming=True), tokenizer, BLOCK_SIZE)
    with pytest.raises(ValueError, match="less than one block"):
        require_one_full_block(streamed, BLOCK_SIZE, "training")
