"""Peak learning rates of their own, under the one schedule: `--head_learning_rate` for the newly initialised
modules (the task head), in full fine-tuning and under an adapter, the pretrained weights keeping
`--learning_rate`; `--layer_lr_decay` for the pretrained blocks, lower blocks slower."""

from __future__ import annotations

import logging

import pytest
import torch

from transfuse.tasks.classification import ClassificationTask
from transfuse.training import parse_arguments, workflow
from transfuse.training.trainer import layer_decay_rates, layer_depths, split_groups


def test_head_parameters_move_to_groups_of_their_own_with_the_same_weight_decay() -> None:
    body, head, head_bias = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    optimizer = torch.optim.AdamW(
        [{"params": [body, head], "weight_decay": 0.01}, {"params": [head_bias], "weight_decay": 0.0}], lr=1e-4
    )
    split_groups(optimizer, {id(head): 1e-3, id(head_bias): 1e-3})
    groups = [([id(p) for p in g["params"]], g["lr"], g["weight_decay"]) for g in optimizer.param_groups]
    # the emptied no-decay group is dropped; nothing is lost or repeated
    assert groups == [([id(body)], 1e-4, 0.01), ([id(head)], 1e-3, 0.01), ([id(head_bias)], 1e-3, 0.0)]


def _train(built_trainers: list, flags: list[str]):
    workflow.train("classification", parse_arguments(ClassificationTask, flags), "test")
    return built_trainers[-1]


def _learning_rates(trainer) -> dict[str, float]:
    """Peak learning rate of each trainable parameter, by name."""
    groups = zip(trainer.optimizer.param_groups, trainer.lr_scheduler.base_lrs)
    peak = {id(p): lr for group, lr in groups for p in group["params"]}
    return {name: peak[id(p)] for name, p in trainer.model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("adapter", [[], ["--adapter", "lora", "--lora_r", "4"]], ids=["full", "lora"])
def test_the_new_head_trains_at_its_own_learning_rate(
    built_trainers, sentiment_rows, write_data, bert_base, tmp_path, adapter
) -> None:
    flags = [
        *("--train_file", write_data("train.jsonl", sentiment_rows(32, 1)), "--model_name_or_path", bert_base),
        *("--max_steps", "3", "--per_device_train_batch_size", "8", "--save_strategy", "no"),
        *("--learning_rate", "1e-4", "--head_learning_rate", "2e-3", "--output_dir", str(tmp_path / "run")),
        *adapter,
    ]
    trainer = _train(built_trainers, flags)
    rates = _learning_rates(trainer)
    head = {name: lr for name, lr in rates.items() if ".classifier." in f".{name}"}
    body = {name: lr for name, lr in rates.items() if name not in head}
    assert head and set(head.values()) == {2e-3}  # weight and bias
    assert body and set(body.values()) == {1e-4}  # every pretrained (or LoRA) parameter
    assert len(rates) == sum(len(g["params"]) for g in trainer.optimizer.param_groups)


def test_without_the_flag_every_parameter_keeps_the_learning_rate(
    built_trainers, sentiment_rows, write_data, bert_base, tmp_path
) -> None:
    flags = [
        *("--train_file", write_data("train.jsonl", sentiment_rows(16, 1)), "--model_name_or_path", bert_base),
        *("--max_steps", "1", "--save_strategy", "no", "--output_dir", str(tmp_path / "run")),
    ]
    assert set(_learning_rates(_train(built_trainers, flags)).values()) == {5e-5}  # the Trainer's default


def test_layer_decay_scales_each_pretrained_block_below_the_head(
    built_trainers, sentiment_rows, write_data, bert_base, tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="transfuse")
    flags = [
        *("--train_file", write_data("train.jsonl", sentiment_rows(16, 1)), "--model_name_or_path", bert_base),
        *("--max_steps", "1", "--save_strategy", "no", "--output_dir", str(tmp_path / "run")),
        *("--learning_rate", "1e-4", "--layer_lr_decay", "0.5", "--head_learning_rate", "2e-3"),
    ]
    rates = _learning_rates(_train(built_trainers, flags))
    by_part = {
        "embeddings": {lr for name, lr in rates.items() if ".embeddings." in name},
        "block 0": {lr for name, lr in rates.items() if ".layer.0." in name},
        "block 1": {lr for name, lr in rates.items() if ".layer.1." in name},
        "pooler": {lr for name, lr in rates.items() if ".pooler." in name},
        "classifier": {lr for name, lr in rates.items() if name.startswith("classifier.")},
    }
    # two blocks: the top one (and the pooler above it) at 1e-4, the one below at x 0.5, the embeddings at x 0.5^2;
    # the new head at its own rate
    assert by_part == {
        "embeddings": {2.5e-5},
        "block 0": {5e-5},
        "block 1": {1e-4},
        "pooler": {1e-4},
        "classifier": {2e-3},
    }
    assert "(--layer_lr_decay 0.5): embeddings 2.5e-05, blocks 5e-05 to 0.0001" in caplog.text


def test_layer_depths_number_blocks_from_the_input_and_skip_the_head() -> None:
    model = torch.nn.Sequential(
        torch.nn.Embedding(4, 2), torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)])
    )
    model.add_module("norm", torch.nn.LayerNorm(2))
    model.add_module("head", torch.nn.Linear(2, 2))
    head = {id(p) for p in model.head.parameters()}
    depths = {name: layer_depths(model, head)[id(p)] for name, p in model.named_parameters() if id(p) not in head}
    assert depths == {
        "0.weight": 0,
        "1.0.weight": 1,
        "1.0.bias": 1,
        "1.1.weight": 2,
        "1.1.bias": 2,
        **dict.fromkeys(["norm.weight", "norm.bias"], 2),
    }
    assert layer_depths(torch.nn.Linear(2, 2), set()) == {}  # no numbered blocks: no decay


def test_layer_decay_without_numbered_blocks_is_ignored_with_a_warning(caplog) -> None:
    assert layer_decay_rates(torch.nn.Linear(2, 2), set(), 1e-4, 0.8) == {}
    assert "--layer_lr_decay 0.8: the model has no numbered blocks; ignored." in caplog.text


@pytest.mark.parametrize("decay", ["0.0", "1.5"])
def test_layer_lr_decay_must_be_a_fraction(tmp_path, decay) -> None:
    with pytest.raises(ValueError, match=rf"--layer_lr_decay {decay} must be in \(0, 1\]"):
        parse_arguments(ClassificationTask, ["--layer_lr_decay", decay, "--output_dir", str(tmp_path)])


def test_head_learning_rate_must_be_positive(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"--head_learning_rate -0.001 must be a positive learning rate"):
        parse_arguments(ClassificationTask, ["--head_learning_rate=-1e-3", "--output_dir", str(tmp_path)])
