"""Tests for transfuse.tokenization: training, the transformers wrapper, reloading, and input errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from transfuse.tokenization import KINDS, SPECIAL_TOKENS, iter_text_files, train_tokenizer

WORDS = (
    "the quick brown fox jumps over a lazy dog while hello world tokens are trained on small data "
    "Paris is capital of France running walked model"
).split()
VOCAB_SIZE = 400


def make_corpus(n_sentences: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + rng.choice(".,!?") for _ in range(n_sentences)
    ]


CORPUS = make_corpus()
SENTENCE = "Paris is the capital of France, the quick fox jumps."


def train(kind: str, **kwargs) -> PreTrainedTokenizerFast:
    kwargs = {"vocab_size": VOCAB_SIZE, "show_progress": False, **kwargs}
    return train_tokenizer(CORPUS, kind=kind, **kwargs)


@pytest.fixture(scope="module", params=KINDS)
def tok(request: pytest.FixtureRequest) -> PreTrainedTokenizerFast:
    return train(request.param, model_max_length=128)


def content_ids(tok: PreTrainedTokenizerFast, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def test_special_tokens_come_first_in_role_order(tok: PreTrainedTokenizerFast) -> None:
    assert isinstance(tok, PreTrainedTokenizerFast)
    for token_id, (role, token) in enumerate(SPECIAL_TOKENS.items()):
        assert getattr(tok, role) == token
        assert getattr(tok, f"{role}_id") == token_id
    assert (tok.cls_token, tok.sep_token) == (tok.bos_token, tok.eos_token)
    assert tok.model_max_length == 128
    assert len(SPECIAL_TOKENS) < len(tok) <= VOCAB_SIZE


def test_single_and_pair_templates(tok: PreTrainedTokenizerFast) -> None:
    a, b = content_ids(tok, "the fox"), content_ids(tok, "a dog")
    bos, eos = tok.bos_token_id, tok.eos_token_id
    assert tok("the fox")["input_ids"] == [bos, *a, eos]
    pair = tok("the fox", "a dog", return_token_type_ids=True)
    assert pair["input_ids"] == [bos, *a, eos, eos, *b, eos]
    assert pair["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 2)


def test_padding_and_truncation_use_pad_id_and_model_max_length(tok: PreTrainedTokenizerFast) -> None:
    batch = tok(["the fox", "the quick brown fox"], padding=True)
    short, long = batch["input_ids"]
    assert len(short) == len(long) and short[-1] == tok.pad_token_id == 0
    assert batch["attention_mask"][0] == [1 if t != 0 else 0 for t in short]
    long_text = " ".join(["the quick brown fox"] * 100)
    assert len(tok(long_text, truncation=True)["input_ids"]) == tok.model_max_length


def test_save_and_autotokenizer_reload_is_identical(tok: PreTrainedTokenizerFast, tmp_path: Path) -> None:
    tok.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.get_vocab() == tok.get_vocab()
    assert reloaded.special_tokens_map == tok.special_tokens_map
    assert reloaded.model_max_length == tok.model_max_length
    words = SENTENCE.split()
    for args, kwargs in [
        ((SENTENCE,), {}),
        ((SENTENCE, "a dog"), {}),
        ((words,), {"is_split_into_words": True}),
    ]:
        assert reloaded(*args, **kwargs)["input_ids"] == tok(*args, **kwargs)["input_ids"]


def test_offsets_cover_exactly_the_non_space_characters(tok: PreTrainedTokenizerFast) -> None:
    enc = tok(SENTENCE, return_offsets_mapping=True)
    spans = [(start, end) for start, end in enc["offset_mapping"] if end > start]  # specials: (0, 0)
    for start, end in spans:
        piece = SENTENCE[start:end]
        assert piece == piece.strip(), f"offset span {piece!r} includes whitespace"
    covered = {i for start, end in spans for i in range(start, end)}
    assert covered == {i for i, char in enumerate(SENTENCE) if not char.isspace()}


def test_word_ids_point_to_the_right_word(tok: PreTrainedTokenizerFast) -> None:
    words = ["fox", "Paris", "is", "the", "capital", "fox"]
    enc = tok(words, is_split_into_words=True)
    word_ids = enc.word_ids()
    assert word_ids[0] is None and word_ids[-1] is None
    for index, word in enumerate(words):
        ids = [t for t, w in zip(enc["input_ids"], word_ids) if w == index]
        assert tok.decode(ids) == word
    first = [t for t, w in zip(enc["input_ids"], word_ids) if w == 0]
    last = [t for t, w in zip(enc["input_ids"], word_ids) if w == len(words) - 1]
    assert first == last, "a word must tokenize the same at the start and in the middle"
    assert enc["input_ids"] == tok(" ".join(words))["input_ids"], "pre-split words must match running text"
    batch = tok([words, words[:2]], is_split_into_words=True)
    assert batch.word_ids(0) == word_ids
    assert batch.word_ids(1) == tok(words[:2], is_split_into_words=True).word_ids()


def test_text_target_gives_labels(tok: PreTrainedTokenizerFast) -> None:
    enc = tok("the quick fox", text_target="a lazy dog")
    assert enc["labels"] == tok("a lazy dog")["input_ids"]
    assert enc["input_ids"] == tok("the quick fox")["input_ids"]


def test_decode_round_trips(tok: PreTrainedTokenizerFast) -> None:
    text = "the quick brown fox jumps over a lazy dog."
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text


def test_mask_token_absorbs_the_space_before_it(tok: PreTrainedTokenizerFast) -> None:
    ids = tok("the <mask> fox")["input_ids"]
    assert ids == [
        tok.bos_token_id,
        *content_ids(tok, "the"),
        tok.mask_token_id,
        *content_ids(tok, "fox"),
        tok.eos_token_id,
    ]


def test_custom_special_tokens_keep_role_order() -> None:
    custom = {"pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}
    tok = train("wordpiece", special_tokens=custom)
    assert tok.convert_ids_to_tokens(range(5)) == ["[PAD]", "[UNK]", "<s>", "</s>", "[MASK]"]
    assert (tok.pad_token, tok.unk_token, tok.mask_token) == ("[PAD]", "[UNK]", "[MASK]")
    with pytest.raises(ValueError, match="pda_token"):
        train("wordpiece", special_tokens={"pda_token": "[PAD]"})


def test_training_from_files_matches_training_from_texts(tmp_path: Path) -> None:
    half = len(CORPUS) // 2
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    files[0].write_text("\n".join(CORPUS[:half]) + "\n\n", encoding="utf-8")
    files[1].write_text("\n".join(CORPUS[half:]), encoding="utf-8")
    assert list(iter_text_files(files)) == CORPUS
    from_files = train_tokenizer(files=files, kind="bpe", vocab_size=VOCAB_SIZE, show_progress=False)
    assert from_files.get_vocab() == train("bpe").get_vocab()


def test_unknown_kind_names_the_value_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"kind='foo'.*'bpe', 'wordpiece', 'unigram'"):
        train("foo")


@pytest.mark.parametrize("kind, too_small", [("bpe", 261), ("wordpiece", 5), ("unigram", 3)])
def test_vocab_too_small_for_special_tokens(kind: str, too_small: int) -> None:
    with pytest.raises(ValueError, match=f"vocab_size={too_small} is too small"):
        train(kind, vocab_size=too_small)


@pytest.mark.parametrize("texts", [[], ["", "  \n"], iter([])])
def test_empty_input(texts: list[str]) -> None:
    with pytest.raises(ValueError, match="no text"):
        train_tokenizer(texts, vocab_size=VOCAB_SIZE, show_progress=False)


def test_exactly_one_of_texts_and_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        train_tokenizer(vocab_size=VOCAB_SIZE)
    with pytest.raises(ValueError, match="exactly one"):
        train_tokenizer(CORPUS, files=[tmp_path / "a.txt"], vocab_size=VOCAB_SIZE)
    with pytest.raises(ValueError, match="not a single string"):
        train_tokenizer("the fox", vocab_size=VOCAB_SIZE)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        train_tokenizer(files=[missing], vocab_size=VOCAB_SIZE)


def test_empty_file_is_named(tmp_path: Path) -> None:
    good, empty = tmp_path / "good.txt", tmp_path / "empty.txt"
    good.write_text("\n".join(CORPUS), encoding="utf-8")
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt.*empty"):
        train_tokenizer(files=[good, empty], vocab_size=VOCAB_SIZE, show_progress=False)


def test_bad_utf8_reports_file_and_byte_offset(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes("héllo\n".encode() + b"ab\xffcd\n")  # "héllo\n" is 7 bytes, so 0xff is at offset 9
    with pytest.raises(ValueError, match=r"bad\.txt.*0xff at byte offset 9.*--encoding_errors replace"):
        list(iter_text_files([bad]))
    assert list(iter_text_files([bad], encoding_errors="replace")) == ["héllo", "ab\ufffdcd"]
    with pytest.raises(ValueError, match="encoding_errors='ignore' is not supported"):
        iter_text_files([bad], encoding_errors="ignore")


def test_replace_mode_trains(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes("\n".join(CORPUS).encode() + b"\nab\xffcd\n")
    tok = train_tokenizer(
        files=[bad], kind="unigram", vocab_size=VOCAB_SIZE, show_progress=False, encoding_errors="replace"
    )
    assert tok.convert_ids_to_tokens(range(5)) == list(SPECIAL_TOKENS.values())
