"""The demo's model on real sentences: `transfuse demo` must not only score well on its own generated validation
set but label short natural sentences it never saw. The 20 sentences below were written by hand, before the
generator in `scripts/make_demo_dataset.py` was rewritten and without looking at its output; none of them is a
row of the demo data (asserted)."""

from __future__ import annotations

import json

import pytest

from transfuse.cli import demo
from transfuse.data import demo_data_files

NATURAL = [
    ("Great!", "positive"),
    ("This is the best phone I have ever owned.", "positive"),
    ("I absolutely loved this movie.", "positive"),
    ("The staff were friendly and the food was delicious.", "positive"),
    ("Totally worth the wait.", "positive"),
    ("What a fantastic experience, thank you!", "positive"),
    ("It works perfectly and arrived on time.", "positive"),
    ("My kids adore this book.", "positive"),
    ("Excellent value for the price.", "positive"),
    ("I'm really happy with my purchase.", "positive"),
    ("Simply terrible.", "negative"),
    ("This was a complete waste of time.", "negative"),
    ("The hotel room was dirty and smelled bad.", "negative"),
    ("I want my money back.", "negative"),
    ("It broke after two days.", "negative"),
    ("Worst customer service ever.", "negative"),
    ("The movie was boring and way too long.", "negative"),
    ("Very disappointed with this product.", "negative"),
    ("Do not buy this.", "negative"),
    ("The food was cold and the waiter was rude.", "negative"),
]
REQUIRED = 18


def test_the_sentences_are_balanced_and_not_in_the_demo_data():
    texts = {json.loads(line)["text"] for path in demo_data_files().values() for line in open(path, encoding="utf-8")}
    assert not [text for text, _ in NATURAL if text in texts]
    assert sum(label == "positive" for _, label in NATURAL) == len(NATURAL) // 2


@pytest.mark.slow
def test_the_demo_model_labels_natural_sentences(tmp_path, capsys):
    """The real demo (its recipe, its data, a `small` model from scratch): about 1-2 minutes on two cores."""
    from transformers import pipeline

    run = tmp_path / "demo"
    assert demo.main(["--output_dir", str(run)]) == 0
    capsys.readouterr()
    classifier = pipeline("text-classification", model=str(run), device="cpu")
    predictions = classifier([text for text, _ in NATURAL])
    wrong = [(text, p["label"]) for (text, gold), p in zip(NATURAL, predictions) if p["label"] != gold]
    assert len(NATURAL) - len(wrong) >= REQUIRED, wrong


def test_a_second_demo_replaces_the_first_and_nothing_else(tmp_path):
    from transfuse.cli.demo import DEMO_MARKER, clear_previous_demo

    earlier_demo, someone_elses = tmp_path / "demo", tmp_path / "mine"
    for folder in (earlier_demo, someone_elses):
        folder.mkdir()
        (folder / "metrics.json").write_text("{}")
    (earlier_demo / DEMO_MARKER).write_text("demo")
    assert clear_previous_demo(earlier_demo) and not earlier_demo.exists()
    assert not clear_previous_demo(someone_elses) and (someone_elses / "metrics.json").is_file()
