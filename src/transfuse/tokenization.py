"""Train a subword tokenizer from raw text and wrap it as a transformers tokenizer.

This module is where transfuse gets its vocabulary: the Transformer is trained from scratch, so there is
no pretrained tokenizer to download. `train_tokenizer` trains one of three `tokenizers` models
(byte-level BPE, WordPiece, Unigram) on an iterator of texts or on UTF-8 text files, and returns a
`transformers.PreTrainedTokenizerFast` that the rest of the suite (pretraining, fine-tuning, the CLI)
uses like any Hub tokenizer: `save_pretrained` / `AutoTokenizer.from_pretrained`, padding, offsets,
`word_ids()` for token classification, `text_target` for seq2seq labels.

Conventions shared by all three kinds:

* Special tokens take the first ids, in the order of `SPECIAL_TOKENS`: pad=0, unk=1, bos/cls=2,
  eos/sep=3, mask=4.
* Sequences are wrapped RoBERTa style: `<s> A </s>` and, for pairs, `<s> A </s> </s> B </s>`.
  `token_type_ids` (returned only on request) are 0 for `<s> A </s>` and 1 for `</s> B </s>`.
* The pre-tokenizer splits on whitespace, so words passed with `is_split_into_words=True` map back
  through `word_ids()`; byte-level BPE adds a prefix space to every word so that a word tokenizes the
  same at the start of a text and in the middle, and its offsets are trimmed of that space (decoding
  drops it again).
* `<mask>` absorbs the space before it (RoBERTa's `lstrip`), so "the <mask>" masks the slot of a word.

`iter_text_files` streams the training files line by line and reports bad UTF-8 by file and byte offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from itertools import chain
from pathlib import Path

from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from tokenizers.normalizers import Normalizer
from tokenizers.trainers import Trainer
from transformers import PreTrainedTokenizerFast

KINDS: tuple[str, ...] = ("bpe", "wordpiece", "unigram")
ENCODING_ERRORS: tuple[str, ...] = ("strict", "replace")
# Role -> token; the order of the roles fixes the ids (pad=0, unk=1, bos=2, eos=3, mask=4).
SPECIAL_TOKENS: dict[str, str] = {
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "bos_token": "<s>",
    "eos_token": "</s>",
    "mask_token": "<mask>",
}
_BYTE_ALPHABET_SIZE = len(pre_tokenizers.ByteLevel.alphabet())


def iter_text_files(files: Sequence[str | Path], encoding_errors: str = "strict") -> Iterator[str]:
    """Yield the non-blank lines (without line breaks) of UTF-8 text files, file after file.

    Missing files and a bad `encoding_errors` are reported at call time. While iterating, invalid
    UTF-8 raises a `ValueError` naming the file and the byte offset of the first bad byte when
    `encoding_errors="strict"`; `"replace"` substitutes U+FFFD instead. A file with no text raises.
    """
    if encoding_errors not in ENCODING_ERRORS:
        raise ValueError(
            f"encoding_errors={encoding_errors!r} is not supported; choose one of "
            f"{', '.join(map(repr, ENCODING_ERRORS))} (--encoding_errors)"
        )
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"text file not found: {str(path)!r}")
    return chain.from_iterable(_iter_file_lines(path, encoding_errors) for path in paths)


def _iter_file_lines(path: Path, encoding_errors: str) -> Iterator[str]:
    """Yield the non-blank lines of one file, tracking byte offsets to locate invalid UTF-8."""
    n_lines = 0
    offset = 0
    with path.open("rb") as handle:
        for raw in handle:  # splitting on b"\n" is safe: it never occurs inside a multi-byte UTF-8 char
            try:
                line = raw.decode("utf-8", errors=encoding_errors)
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{str(path)!r} is not valid UTF-8: first bad byte 0x{raw[err.start]:02x} at byte offset "
                    f"{offset + err.start}; re-encode the file as UTF-8 or pass --encoding_errors replace "
                    f"(encoding_errors='replace') to substitute U+FFFD for bad bytes"
                ) from err
            offset += len(raw)
            line = line.rstrip("\r\n")
            if line.strip():
                n_lines += 1
                yield line
    if n_lines == 0:
        raise ValueError(f"text file {str(path)!r} is empty (no non-blank line)")


def train_tokenizer(
    texts: Iterable[str] | None = None,
    files: Sequence[str | Path] | None = None,
    kind: str = "bpe",
    vocab_size: int = 8000,
    min_frequency: int = 2,
    model_max_length: int = 512,
    special_tokens: Mapping[str, str] | None = None,
    lowercase: bool = False,
    show_progress: bool = True,
    encoding_errors: str = "strict",
) -> PreTrainedTokenizerFast:
    """Train a `kind` tokenizer on `texts` or on the UTF-8 text `files` (exactly one of the two).

    `special_tokens` overrides entries of `SPECIAL_TOKENS` by role (e.g. `{"pad_token": "[PAD]"}`);
    cls is the bos token and sep the eos token. `min_frequency` is ignored by Unigram, which has no
    such setting. `encoding_errors` applies to `files` (see `iter_text_files`). `show_progress`
    turns on the `tokenizers` trainer's progress bar.
    """
    if kind not in KINDS:
        raise ValueError(
            f"kind={kind!r} is not supported; choose one of {', '.join(map(repr, KINDS))} (--tokenizer_type)"
        )
    specials = _resolve_special_tokens(special_tokens)
    _check_vocab_size(kind, vocab_size, len(specials))
    length = len(texts) if isinstance(texts, Sized) else None
    source = _non_blank(_text_source(texts, files, encoding_errors))

    backend = _backend(kind, lowercase, specials["unk_token"])
    trainer = _trainer(kind, vocab_size, min_frequency, specials, show_progress)
    backend.train_from_iterator(source, trainer=trainer, length=length)
    backend.post_processor = _post_processor(kind, backend, specials["bos_token"], specials["eos_token"])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=model_max_length,
        cls_token=specials["bos_token"],
        sep_token=specials["eos_token"],
        add_prefix_space=kind == "bpe",
        **{role: _added_token(role, token) for role, token in specials.items()},
    )


def _resolve_special_tokens(overrides: Mapping[str, str] | None) -> dict[str, str]:
    """Merge `overrides` into `SPECIAL_TOKENS`, rejecting unknown roles and duplicate tokens."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(SPECIAL_TOKENS))
    if unknown:
        raise ValueError(
            f"unknown special token role(s) {unknown}; choose among {', '.join(map(repr, SPECIAL_TOKENS))}"
        )
    specials = {**SPECIAL_TOKENS, **overrides}
    if len(set(specials.values())) != len(specials):
        raise ValueError(f"special tokens must be distinct, got {specials}")
    return specials


def _check_vocab_size(kind: str, vocab_size: int, n_special: int) -> None:
    """Require room for the special tokens (and, for byte-level BPE, the 256-byte base alphabet) plus one."""
    base = n_special + (_BYTE_ALPHABET_SIZE if kind == "bpe" else 0)
    if vocab_size <= base:
        alphabet = f" and the {_BYTE_ALPHABET_SIZE}-symbol byte alphabet" if kind == "bpe" else ""
        raise ValueError(
            f"vocab_size={vocab_size} is too small for kind={kind!r}: it must be more than {base} "
            f"to hold the {n_special} special tokens{alphabet}"
        )


def _text_source(
    texts: Iterable[str] | None, files: Sequence[str | Path] | None, encoding_errors: str
) -> Iterable[str]:
    """Return the training texts from exactly one of `texts` and `files`."""
    if (texts is None) == (files is None):
        raise ValueError("pass exactly one of texts= and files= to train_tokenizer")
    if isinstance(texts, str) or isinstance(files, (str, Path)):
        raise ValueError("texts= and files= take a collection (e.g. a list), not a single string or path")
    return texts if texts is not None else iter_text_files(files, encoding_errors)


def _non_blank(texts: Iterable[str]) -> Iterator[str]:
    """Return an iterator over `texts` that fails fast when there is no text at all."""
    iterator = iter(texts)
    for text in iterator:
        if text.strip():
            return chain([text], iterator)
    raise ValueError("no text to train the tokenizer on: the input is empty or only whitespace")


def _backend(kind: str, lowercase: bool, unk_token: str) -> Tokenizer:
    """Build the untrained `tokenizers.Tokenizer`: model, normalizer, pre-tokenizer and decoder."""
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.normalizer = _normalizer([normalizers.Lowercase()] if lowercase else [])
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        # ByteLevel decodes to one string; Strip then drops the prefix space added to the first word.
        tokenizer.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Strip(" ", 1, 0)])
    elif kind == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token=unk_token))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
    else:
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.normalizer = _normalizer([normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else []))
        # Splitting on whitespace first keeps the spaces out of the offsets; Metaspace then marks word starts.
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(prepend_scheme="always")]
        )
        tokenizer.decoder = decoders.Metaspace(prepend_scheme="always")
    return tokenizer


def _normalizer(steps: list[Normalizer]) -> Normalizer | None:
    return normalizers.Sequence(steps) if steps else None


def _trainer(kind: str, vocab_size: int, min_frequency: int, specials: dict[str, str], show_progress: bool) -> Trainer:
    tokens = [_added_token(role, token) for role, token in specials.items()]
    common = {"vocab_size": vocab_size, "special_tokens": tokens, "show_progress": show_progress}
    if kind == "bpe":
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        return trainers.BpeTrainer(min_frequency=min_frequency, initial_alphabet=alphabet, **common)
    if kind == "wordpiece":
        return trainers.WordPieceTrainer(min_frequency=min_frequency, **common)
    return trainers.UnigramTrainer(unk_token=specials["unk_token"], **common)


def _added_token(role: str, token: str) -> AddedToken:
    """Special token as an `AddedToken`; the mask absorbs the space before it, as in RoBERTa's fill-mask."""
    return AddedToken(token, special=True, normalized=False, lstrip=role == "mask_token")


def _post_processor(kind: str, tokenizer: Tokenizer, bos: str, eos: str) -> processors.PostProcessor:
    """`<s> A </s>` / `<s> A </s> </s> B </s>`; byte-level BPE also trims the prefix space from offsets."""
    template = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0 {eos}:0",
        pair=f"{bos}:0 $A:0 {eos}:0 {eos}:1 $B:1 {eos}:1",
        special_tokens=[(bos, tokenizer.token_to_id(bos)), (eos, tokenizer.token_to_id(eos))],
    )
    if kind != "bpe":
        return template
    return processors.Sequence([processors.ByteLevel(trim_offsets=True, add_prefix_space=True), template])


def check_tokenizer_fits(model, tokenizer, tokenizer_name: str) -> None:
    """Raise a `ValueError` before any step when the tokenizer's ids reach past the model's embedding rows (an
    `IndexError` deep inside the first forward pass otherwise). Fewer tokens than rows is fine: many checkpoints
    pad their embedding to a multiple of 8 or 64."""
    n_embeddings = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > n_embeddings:
        raise ValueError(
            f"the tokenizer {tokenizer_name!r} has {len(tokenizer)} tokens but the model only {n_embeddings} "
            "embeddings: it does not belong to this model. Pass the tokenizer the model was trained with "
            "(--tokenizer_name), or leave --tokenizer_name out to use the model's own."
        )
