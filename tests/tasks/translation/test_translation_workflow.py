"""`transfuse train|predict translation` through the shared workflow: parallel text files in, the run folder's
metrics (with sacreBLEU signatures), model card, attention plot and plain-text predictions out."""

from __future__ import annotations

import json
import logging

from transfuse.tasks import get_task_class
from transfuse.training import parse_arguments, workflow

from .conftest import reversal_pairs

FLAGS = ["--source_lang", "src", "--target_lang", "tgt", "--preset", "tiny", "--vocab_size", "300",
         "--max_seq_length", "32", "--max_target_length", "12", "--max_steps", "3", "--num_beams", "1",
         "--per_device_train_batch_size", "8", "--save_strategy", "no", "--disable_tqdm", "true",
         "--report_to", "none"]  # fmt: skip


class RecordedMessages(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run(command, argv):
    args = parse_arguments(get_task_class("translation"), argv, command)
    return getattr(workflow, command)("translation", args, f"transfuse {command} translation")


def test_parallel_files_to_run_folder_and_text_predictions(tmp_path):
    for split, count, seed in (("train", 32, 0), ("valid", 6, 1)):
        sources, targets = reversal_pairs(count, seed=seed)
        (tmp_path / f"{split}.src").write_text("\n".join(sources) + "\n")
        (tmp_path / f"{split}.tgt").write_text("\n".join(targets) + "\n")
    out = tmp_path / "run"
    warnings, generation_logger = RecordedMessages(), logging.getLogger("transformers.generation.utils")
    generation_logger.addHandler(warnings)
    try:
        results = run("train", ["--train_file", str(tmp_path / "train"), "--validation_file",
                                str(tmp_path / "valid.src"), "--output_dir", str(out), "--attention_plot", "2",
                                *FLAGS])  # fmt: skip
    finally:
        generation_logger.removeHandler(warnings)
    # the per-batch max_new_tokens overriding the saved max_length is meant: no warning on every batch
    assert not [message for message in warnings.messages if "seem to have been set" in message]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval"]["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert results["eval"]["truncated"]["rows"] == 6
    card = (out / "README.md").read_text()
    assert "bleu" in card and "sys_len" not in card and "ref_len" not in card
    assert (out / "attention.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "config.json").read_text())["translation"]["source_lang"] == "src"

    (tmp_path / "test.src").write_text("a b\nc d e\n\nf\n")
    rows = run("predict", ["--model_name_or_path", str(out), "--test_file", str(tmp_path / "test"), "--output_file",
                           str(tmp_path / "out.txt"), "--output_format", "text", "--skip_bad_rows"])  # fmt: skip
    lines = (tmp_path / "out.txt").read_text().split("\n")
    assert len(lines) == 5 and lines[-1] == "" and "error" in rows[2]  # line i answers row i, the blank one too
