"""Reading parallel data in every layout, and every structural problem refused with one line."""

from __future__ import annotations

import json

import pytest

from transfuse.data.validation import DataValidationError
from transfuse.tasks.translation.arguments import TranslationArguments
from transfuse.tasks.translation.data import (
    first_blank_mismatch,
    parallel_files,
    read_lines,
    read_translation_file,
)

DE = ["ein Hund", "eine Katze", "zwei Männer"]
EN = ["a dog", "a cat", "two men"]


def write_parallel(folder, name="train", de=DE, en=EN):
    (folder / f"{name}.de").write_text("\n".join(de) + "\n", encoding="utf-8")
    (folder / f"{name}.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    return str(folder / name)


def test_parallel_prefix_both_directions_and_a_file_name(tmp_path):
    prefix = write_parallel(tmp_path)
    assert list(parallel_files(prefix)) == ["de", "en"]
    assert list(parallel_files(prefix + ".de")) == ["de", "en"]  # one of the files names the pair too
    de_en = read_translation_file(prefix, "--train_file", False, ["de", "en"]).examples
    assert de_en["de"] == DE and de_en["en"] == EN
    en_de = read_translation_file(prefix + ".en", "--train_file", False, ["en", "de"]).examples
    assert en_de.column_names == ["en", "de"] and en_de["en"] == EN


def test_test_split_needs_the_source_side_only(tmp_path):
    (tmp_path / "test.de").write_text("\n".join(DE) + "\n", encoding="utf-8")
    examples = read_translation_file(str(tmp_path / "test"), "--test_file", False, ["de"], ["en"]).examples
    assert examples.column_names == ["de"] and len(examples) == 3


def test_jsonl_hub_layout_and_flat_columns(tmp_path):
    nested = tmp_path / "nested.jsonl"
    nested.write_text("".join(json.dumps({"translation": {"de": d, "en": e}}) + "\n" for d, e in zip(DE, EN)))
    examples = read_translation_file(str(nested), "--train_file", False, ["en", "de"]).examples
    assert examples["en"] == EN and examples["de"] == DE
    flat = tmp_path / "flat.csv"
    flat.write_text("id,de,en\n" + "".join(f"{i},{d},{e}\n" for i, (d, e) in enumerate(zip(DE, EN))))
    examples = read_translation_file(str(flat), "--validation_file", False, ["de", "en"]).examples
    assert examples["de"] == DE and examples["en"] == EN


def test_different_line_counts_name_both_files_counts_and_the_first_blank_mismatch(tmp_path):
    prefix = write_parallel(tmp_path, de=["ein Hund", "", "eine Katze", "zwei Männer"], en=EN)
    with pytest.raises(DataValidationError) as err:
        read_translation_file(prefix, "--train_file", False, ["de", "en"])
    message = str(err.value)
    assert "\n" not in message
    assert "train.de has 4 lines" in message and "train.en has 3" in message
    assert "line 2 is the first where one side is blank" in message


def test_line_count_mismatch_without_blank_lines(tmp_path):
    prefix = write_parallel(tmp_path, de=DE + ["noch ein Satz"], en=EN)
    with pytest.raises(DataValidationError, match="has 4 lines.*has 3.*no blank line"):
        read_translation_file(prefix, "--train_file", False, ["de", "en"])
    assert first_blank_mismatch(["a", "", "b"], ["a", "b", ""]) == 1
    assert first_blank_mismatch(["a", "b"], ["a"]) is None


def test_language_not_in_the_data_lists_those_present(tmp_path):
    prefix = write_parallel(tmp_path)
    with pytest.raises(DataValidationError, match=r"language 'fr' \(--target_lang\).*'de' \(train.de\), 'en'"):
        read_translation_file(prefix, "--train_file", False, ["de", "fr"])
    nested = tmp_path / "nested.jsonl"
    nested.write_text(json.dumps({"translation": {"de": "a", "en": "b"}}) + "\n")
    with pytest.raises(DataValidationError, match=r"--source_lang 'fr'; the languages \(columns\) present are 'de'"):
        read_translation_file(str(nested), "--train_file", False, ["fr", "en"])


def test_same_language_on_both_sides_and_bad_options():
    with pytest.raises(ValueError, match="both 'de'"):
        TranslationArguments(source_lang="de", target_lang="de")
    with pytest.raises(ValueError, match="--average_checkpoints 1"):
        TranslationArguments(average_checkpoints=1)
    with pytest.raises(ValueError, match="--max_length_ratio"):
        TranslationArguments(max_length_ratio=0)


def test_not_a_file_nor_a_prefix(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a data file .* nor the prefix of parallel text files"):
        read_translation_file(str(tmp_path / "nothing"), "--train_file", False, ["de", "en"])


def test_lines_keep_unicode_separators_and_refuse_bad_utf8(tmp_path):
    path = tmp_path / "x.de"
    path.write_bytes("a\u2028b\r\nc\n".encode())
    assert read_lines(path) == ["a\u2028b", "c"]
    path.write_bytes(b"ok\n\xff\n")
    with pytest.raises(DataValidationError, match="byte offset 3"):
        read_lines(path)
