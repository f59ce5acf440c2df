"""`transfuse.common.folder`: what belongs to a run folder besides the weights."""

from __future__ import annotations

from transfuse.common.folder import extra_tokenizer_folders


def test_extra_tokenizer_folders_are_a_tasks_own_tokenizers_only(tmp_path):
    for name in ("target_tokenizer", "base", "checkpoint-3", "checkpoint-3/target_tokenizer", "plots"):
        (tmp_path / name).mkdir(parents=True)
    for name in ("target_tokenizer", "base", "checkpoint-3", "checkpoint-3/target_tokenizer"):
        (tmp_path / name / "tokenizer_config.json").write_text("{}")
    (tmp_path / "tokenizer_config.json").write_text("{}")
    assert extra_tokenizer_folders(tmp_path) == [tmp_path / "target_tokenizer"]
    assert extra_tokenizer_folders(tmp_path / "missing") == []
