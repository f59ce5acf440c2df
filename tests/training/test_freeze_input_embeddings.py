"""`--freeze_input_embeddings`: full fine-tuning of a pretrained model that leaves its word embeddings as they
were (no gradient, no optimizer state) while the rest trains; refused where it means nothing."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from transfuse.tasks.classification import ClassificationTask
from transfuse.training import check_arguments, parse_arguments, workflow

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def test_word_embeddings_stay_pretrained_while_the_rest_trains(
    built_trainers, sentiment_rows, write_data, bert_base, tmp_path
) -> None:
    flags = [
        *("--train_file", write_data("train.jsonl", sentiment_rows(32, 1)), "--model_name_or_path", bert_base),
        *("--max_steps", "3", "--per_device_train_batch_size", "8", "--save_strategy", "no", "--fp32"),
        *("--learning_rate", "1e-2", "--freeze_input_embeddings", "true", "--output_dir", str(tmp_path / "run")),
    ]
    workflow.train("classification", parse_arguments(ClassificationTask, flags), "test")
    trainer = built_trainers[-1]
    optimized = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert id(trainer.model.get_input_embeddings().weight) not in optimized
    before = load_file(f"{bert_base}/model.safetensors")
    after = load_file(str(tmp_path / "run" / "model.safetensors"))
    torch.testing.assert_close(after[f"bert.{WORD_EMBEDDINGS}"], before[WORD_EMBEDDINGS], rtol=0, atol=0)
    changed = [name for name, value in before.items() if not torch.equal(after[f"bert.{name}"], value)]
    assert (
        "embeddings.position_embeddings.weight" in changed and "encoder.layer.0.attention.self.query.weight" in changed
    )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [(["--adapter", "lora"], "--adapter lora freezes them"), ([], "a random model has none")],
    ids=["adapter", "from_scratch"],
)
def test_refused_where_there_is_nothing_pretrained_to_keep(tmp_path, bert_base, extra, reason) -> None:
    model = ["--model_name_or_path", bert_base] if extra else ["--preset", "tiny"]
    argv = [*model, "--train_file", "train.jsonl", "--output_dir", str(tmp_path / "run")]
    args = parse_arguments(ClassificationTask, [*argv, *extra, "--freeze_input_embeddings", "true"], "train")
    with pytest.raises(ValueError, match=f"--freeze_input_embeddings keeps pretrained word embeddings, and {reason}"):
        check_arguments(args, "train")
