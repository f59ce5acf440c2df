"""SRL data: BIO checks and repair, every bad input of issue 18, CoNLL bracket columns read and written back."""

from __future__ import annotations

import json

import pytest

from transfuse.tasks.srl.data import (
    ConllFormatError,
    bio_errors,
    bio_to_brackets,
    brackets_to_bio,
    find_bad_propositions,
    read_conll,
    repair_bio,
    write_conll,
)

COLUMNS = ("tokens", "predicate_index", "tags")
CONLL = """# sent_id = s1
1\tThe\tDT\t-\t-\t(ARG0*\t*
2\tman\tNN\t-\t-\t*)\t*
3\tsaid\tVBD\tsay\tsay.01\t(V*)\t*
4\the\tPRP\t-\t-\t(ARG1*\t(ARG0*)
5\tleft\tVBD\tleave\tleave.01\t*)\t(V*)

# sent_id = s2
1\tGo\tVB\tgo\tgo.01\t(V*)
2\t!\t.\t-\t-\t*
"""


def test_bio_errors_and_repair() -> None:
    tags = ["I-A0", "B-A1", "I-A1", "I-A0", "O", "I-A1", "B-V", "I-V"]
    assert bio_errors(tags) == [0, 3, 5]
    repaired, changed = repair_bio(tags)
    assert changed == 3 and repaired == ["B-A0", "B-A1", "I-A1", "B-A0", "O", "B-A1", "B-V", "I-V"]
    assert bio_errors(repaired) == []


def test_bracket_columns_and_bio_convert_both_ways() -> None:
    cells = ["(ARG0*", "*", "*)", "(V*)", "*", "(C-ARG1*)"]
    tags = ["B-ARG0", "I-ARG0", "I-ARG0", "B-V", "O", "B-C-ARG1"]
    assert brackets_to_bio(cells, "f.conll", 1) == tags
    assert bio_to_brackets(tags) == cells
    # a stray I- opens a span, as conlleval reads it
    assert bio_to_brackets(["O", "I-A0", "I-A0", "I-A1"]) == ["*", "(A0*", "*)", "(A1*)"]


@pytest.mark.parametrize(
    ("cells", "line", "message"),
    [
        (["(A0*", "*", "*"], 12, "never closed"),
        (["*", "*)", "*"], 11, "never opened"),
        (["(A0*", "(A1*)", "*)"], 11, "opens inside"),
        (["*", "A0", "*"], 11, "not a bracket cell"),
    ],
)
def test_unbalanced_brackets_name_file_and_line(cells, line, message) -> None:
    with pytest.raises(ConllFormatError, match=rf"^f\.conll, line {line}: .*{message}"):
        brackets_to_bio(cells, "f.conll", 10)


def test_read_conll_one_row_per_predicate_column(tmp_path) -> None:
    path = tmp_path / "dev.conll"
    path.write_text(CONLL)
    rows = read_conll(path)
    assert [(row["sent_id"], row["predicate_index"]) for row in rows] == [("s1", 2), ("s1", 4), ("s2", 0)]
    assert rows[0]["tokens"] == ["The", "man", "said", "he", "left"]
    assert rows[0]["tags"] == ["B-ARG0", "I-ARG0", "B-V", "B-ARG1", "I-ARG1"]
    assert rows[1]["tags"] == ["O", "O", "O", "B-ARG0", "B-V"]
    assert rows[2]["tags"] == ["B-V", "O"]


def test_conll_round_trip(tmp_path) -> None:
    source = tmp_path / "dev.conll"
    source.write_text(CONLL)
    rows = read_conll(source)
    written = tmp_path / "out.conll"
    write_conll(written, rows)
    assert read_conll(written) == rows
    text = written.read_text()
    write_conll(tmp_path / "again.conll", read_conll(written))
    assert (tmp_path / "again.conll").read_text() == text  # write -> read -> write is byte-identical
    assert text.splitlines()[1] == "1\tThe\t-\t(ARG0*\t*"


def test_read_conll_without_id_or_predicate_column_uses_v(tmp_path) -> None:
    path = tmp_path / "props.conll"
    path.write_text("John (A0*)\nran (V*)\nhome (A1*)\n")
    assert read_conll(path) == [
        {
            "sent_id": "props.conll:1",
            "tokens": ["John", "ran", "home"],
            "predicate_index": 1,
            "tags": ["B-A0", "B-V", "B-A1"],
        }
    ]


def test_read_conll_errors_name_file_and_line(tmp_path) -> None:
    path = tmp_path / "bad.conll"
    path.write_text(CONLL.replace("4\the\tPRP\t-\t-\t(ARG1*\t(ARG0*)", "4\the\tPRP\t-\t-\t*\t(ARG0*)"))
    with pytest.raises(ConllFormatError, match=r"bad\.conll, line 6: \*\) closes a bracket that was never opened"):
        read_conll(path)
    path.write_text("1\tA\tx\t(V*)\n2\tB\t-\t*\t*\n")
    with pytest.raises(ConllFormatError, match=r"bad\.conll, line 1: .*columns"):
        read_conll(path)
    path.write_text("1\tA\tgo\t(V*)\t*\n2\tB\t-\t*\t(V*)\n")
    with pytest.raises(ConllFormatError, match=r"1 predicate\(s\) marked .* but 2 argument column"):
        read_conll(path)


def test_every_bad_input_is_one_named_problem() -> None:
    tokens = [["a", "b"], ["a", "b"], ["a", "b"], ["a", ""], [], ["a", "b"], ["a", "b"], ["a", "b"]]
    predicates = [0, 2, 0, 0, 0, 1, 1, "1"]
    tags = [
        ["B-V", "O"],  # good
        ["B-V", "O"],  # predicate out of range
        ["B-V"],  # length mismatch
        ["B-V", "O"],  # empty word
        [],  # no words
        ["I-A0", "B-V"],  # ill-formed BIO
        ["B-A0", "X"],  # not a tag
        ["O", "B-V"],  # predicate is a string
    ]
    bad, notes = find_bad_propositions(tokens, predicates, tags, COLUMNS, repair=False)
    problems = {row.index: (row.column, row.problem) for row in bad}
    assert problems == {
        1: ("predicate_index", "predicate_index out of range"),
        2: ("tags", "tokens and tags differ in length"),
        3: ("tokens", "empty or non-string word"),
        4: ("tokens", "tokens are not a non-empty list of words"),
        5: ("tags", "ill-formed BIO"),
        6: ("tags", "tag is not O, B-ROLE or I-ROLE"),
        7: ("predicate_index", "predicate_index out of range"),
    }
    assert "--repair_bio" in next(row for row in bad if row.index == 5).detail
    assert not notes


def test_repair_bio_and_predicate_not_b_v_are_counted_not_dropped() -> None:
    tokens = [["a", "b", "c"]] * 3
    tags = [["I-A0", "B-V", "O"], ["B-V", "I-V", "O"], ["O", "B-V", "B-C-V"]]
    bad, notes = find_bad_propositions(tokens, [1, 1, 2], tags, COLUMNS, repair=True)
    assert bad == []
    assert notes == {
        "stray I- tags turned into B- (--repair_bio)": 1,
        "predicate word not tagged B-V (predicate_index trusted)": 2,
    }
    # raw sentences: no predicate, no tags
    assert find_bad_propositions(tokens, [None, None, None], None, COLUMNS, repair=False) == ([], {})


def test_shared_conll_matches_its_jsonl(shared_data) -> None:
    folder = shared_data / "srl" / "ewt_propbank"
    if not (folder / "validation.conll").is_file():
        pytest.skip("ewt_propbank not present")
    rows = read_conll(folder / "validation.conll")
    with open(folder / "validation.jsonl") as handle:
        reference = [json.loads(line) for line in handle]
    assert len(rows) == len(reference) == 4956
    keys = ("sent_id", "tokens", "predicate_index", "tags")
    assert all(all(row[k] == ref[k] for k in keys) for row, ref in zip(rows, reference))
    _, notes = find_bad_propositions(
        [r["tokens"] for r in rows], [r["predicate_index"] for r in rows], [r["tags"] for r in rows], COLUMNS, False
    )
    assert notes == {"predicate word not tagged B-V (predicate_index trusted)": 2}
