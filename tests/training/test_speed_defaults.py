"""The fast paths of the shared training layer (issue 19), checked for behaviour, never for timings:

* bf16 autocast training is the default where the hardware multiplies bf16 natively, an explicit `--bf16` /
  `--fp16` / `--fp32` wins, and a tiny model's loss curve under bf16 follows the fp32 one;
* evaluation and prediction in length-sorted (and token-budgeted) batches answer row i on line i, exactly as
  in dataset order; a forward-pass task batches within a token budget by default, generation by rows;
* length-grouped training batches are the Trainer's, in a shuffled order;
* `--torch_compile` trains and predicts with a transfuse model on the CPU.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import Seq2SeqTrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler

from transfuse.tasks.classification import ClassificationTask
from transfuse.training import check_arguments, parse_arguments, precision, workflow
from transfuse.training.arguments import GENERATION_ROWS, INFERENCE_ROWS, INFERENCE_TOKENS, LENGTH_GROUP_BATCHES
from transfuse.training.precision import resolve_eval_weights, resolve_training_precision, use_bf16_inference
from transfuse.training.trainer import (
    ShuffledLengthGroupedSampler,
    feature_lengths,
    loader_order,
    resolve_inference_batches,
    token_budget_batches,
    unpermute,
)


def varied_rows(sentiment_rows, n: int, seed: int) -> dict[str, list]:
    """Sentiment rows of different lengths (0 to 10 extra words), so that sorting reorders them."""
    rows = sentiment_rows(n, seed)
    rows["text"] = ["very " * (2 * (i % 6)) + text for i, text in enumerate(rows["text"])]
    return rows


# ---- bf16 training by default where it is native -----------------------------------------------------------


@pytest.mark.parametrize(
    ("native", "flags", "expected"),
    [
        (True, [], True),  # bf16 hardware, nothing said: bf16 autocast
        (False, [], False),  # bf16 would be emulated: fp32
        (True, ["--fp32"], False),  # fp32 one flag away
        (True, ["--bf16", "false"], False),  # the user's own choice wins
        (False, ["--bf16"], True),
    ],
)
def test_training_precision_default(monkeypatch, tmp_path, native, flags, expected) -> None:
    monkeypatch.setattr(precision, "cpu_has_bf16_matmul", lambda: native)
    args = parse_arguments(ClassificationTask, ["--train_file", "t.jsonl", "--output_dir", str(tmp_path), *flags])
    if "--bf16" not in flags:
        assert args.training.bf16 is None  # "not given", settled when the Trainer is built
    eval_bf16 = use_bf16_inference(args.training.device, args.run.fp32)
    resolve_training_precision(args.training, train=True, bf16=eval_bf16)
    assert args.training.bf16 is expected
    assert args.training.mixed_precision == ("bf16" if expected else "no")


def test_precision_in_a_config_file_wins_and_inference_alone_stays_fp32(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(precision, "cpu_has_bf16_matmul", lambda: True)
    config = tmp_path / "run.yaml"
    config.write_text(f"train_file: t.jsonl\noutput_dir: {tmp_path}\nbf16: false\n")
    args = parse_arguments(ClassificationTask, [str(config)])
    resolve_training_precision(args.training, train=True, bf16=True)
    assert args.training.bf16 is False
    args = parse_arguments(ClassificationTask, ["--model_name_or_path", "run", "--output_dir", str(tmp_path)])
    resolve_training_precision(args.training, train=False, bf16=True)  # evaluate / predict: eval_bf16 decides
    assert args.training.bf16 is False and args.training.mixed_precision == "no"


@pytest.mark.parametrize(
    ("native", "flags", "train", "expected"),
    [
        (True, [], False, True),  # evaluate / predict on bf16 hardware: bf16 weights
        (True, ["--bf16_full_eval", "false"], False, False),  # autocast over fp32 weights, one flag away
        (True, ["--fp32"], False, False),
        (False, [], False, False),  # bf16 would be emulated
        (True, [], True, False),  # a training run's final evaluation must not cast the model it saves
    ],
)
def test_inference_weights_are_bf16_by_default(monkeypatch, tmp_path, native, flags, train, expected) -> None:
    monkeypatch.setattr(precision, "cpu_has_bf16_matmul", lambda: native)
    args = parse_arguments(ClassificationTask, ["--model_name_or_path", "run", "--output_dir", str(tmp_path), *flags])
    eval_bf16 = use_bf16_inference(args.training.device, args.run.fp32)
    resolve_eval_weights(args.training, train=train, bf16=eval_bf16, quantized=False)
    assert args.training.bf16_full_eval is expected
    assert precision.eval_precision_name(args.training, eval_bf16) == (
        "bf16 weights" if expected else "bf16" if eval_bf16 else "fp32"
    )
    args = parse_arguments(ClassificationTask, ["--model_name_or_path", "run", "--output_dir", str(tmp_path)])
    resolve_eval_weights(args.training, train=False, bf16=True, quantized=True)
    assert args.training.bf16_full_eval is False  # 4/8-bit weights cannot be cast


def _loss_curve(trainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_bf16_training_follows_the_fp32_loss_curve(
    built_trainers, sentiment_rows, write_data, tiny_flags, tmp_path
) -> None:
    """Same seed, same batches: bf16 autocast (run on any CPU, natively or emulated) ends within a few percent
    of fp32's loss, and both learned."""
    built = built_trainers
    data = ["--train_file", write_data("train.jsonl", sentiment_rows(160, seed=0))]
    steps = ["--max_steps", "60", "--logging_steps", "10", "--learning_rate", "5e-3"]
    curves, results = {}, {}
    for name, flag in (("fp32", "--fp32"), ("bf16", "--bf16")):
        flags = [*tiny_flags, *steps, flag, "--output_dir", str(tmp_path / name)]
        results[name] = workflow.train("classification", parse_arguments(ClassificationTask, data + flags), "test")
        curves[name] = _loss_curve(built[-1])
    assert results["fp32"]["train_precision"] == "fp32" and results["bf16"]["train_precision"] == "bf16"
    fp32, bf16 = np.array(curves["fp32"]), np.array(curves["bf16"])
    assert len(fp32) == len(bf16) == 6
    assert fp32[-1] < 0.6 * fp32[0] and bf16[-1] < 0.6 * bf16[0]  # both learned the one-word rule
    np.testing.assert_allclose(bf16, fp32, rtol=0.1, atol=0.02)
    assert results["bf16"]["train"]["train_loss"] == pytest.approx(results["fp32"]["train"]["train_loss"], rel=0.05)


# ---- length-grouped training batches ----------------------------------------------------------------------


def test_length_grouped_batches_come_shuffled_from_groups_of_a_chosen_size() -> None:
    lengths = np.random.default_rng(0).integers(1, 64, size=4011).tolist()  # 125 batches of 32 and one of 11
    stock = LengthGroupedSampler(32, lengths=lengths, generator=torch.Generator().manual_seed(0))
    shuffled = ShuffledLengthGroupedSampler(32, lengths=lengths, generator=torch.Generator().manual_seed(0))
    stock_batches, batches = (list(chunks(list(sampler), 32)) for sampler in (stock, shuffled))
    assert sorted(map(sorted, batches)) == sorted(map(sorted, stock_batches))  # by default the same batches
    small = ShuffledLengthGroupedSampler(32, lengths=lengths, generator=torch.Generator(), group_batches=12)
    batches = list(chunks(list(small), 32))
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))  # every row, once
    assert max(lengths[i] for i in batches[0]) == max(lengths)  # the longest batch first
    assert len(batches[-1]) == 11  # the short batch stays last: every other one keeps its 32 rows
    # the stock order runs longest to shortest within each group of batches; the shuffled one does not
    longest = [max(lengths[i] for i in batch) for batch in batches[1:-1]]
    stock_longest = [max(lengths[i] for i in batch) for batch in stock_batches[1:-1]]
    descents = [sum(a >= b for a, b in zip(run, run[1:])) / (len(run) - 1) for run in (longest, stock_longest)]
    assert descents[1] > 0.9 and descents[0] < 0.75

    # groups of 12 batches, not the Trainer's 50: rows of a batch vary more in length, the padding stays far below
    # random batches'
    def spread(batch_list):
        return np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batch_list[:-1]])

    permutation = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = list(chunks(permutation, 32))
    assert LENGTH_GROUP_BATCHES == 50  # the Trainer's, unless a config says
    assert spread(stock_batches) < spread(batches) < spread(random_batches) / 3


def test_the_trainer_serves_length_groups_shuffled(
    built_trainers, sentiment_rows, write_data, tiny_flags, tmp_path
) -> None:
    built = built_trainers
    flags = ["--train_file", write_data("train.jsonl", varied_rows(sentiment_rows, 64, seed=0)), *tiny_flags]
    grouped = [*flags, "--train_sampling_strategy", "group_by_length", "--length_group_batches", "3"]
    workflow.train("classification", parse_arguments(ClassificationTask, grouped), "test")
    sampler = built[-1]._get_train_sampler()
    assert type(sampler) is ShuffledLengthGroupedSampler and sampler.group_batches == 3
    workflow.train(
        "classification", parse_arguments(ClassificationTask, [*flags, "--output_dir", str(tmp_path / "r")]), "t"
    )
    assert not isinstance(built[-1]._get_train_sampler(), LengthGroupedSampler)  # random batches stay the Trainer's


def chunks(items: list[int], size: int):
    return (items[i : i + size] for i in range(0, len(items), size))


# ---- length-sorted, token-budgeted inference in input order ------------------------------------------------


def test_token_budget_batches_cover_every_row_once_within_the_budget() -> None:
    lengths = np.array([5, 40, 3, 17, 17, 9, 100, 1, 22, 8])
    order = np.argsort(-lengths, kind="stable")
    batches = token_budget_batches(order, lengths, max_rows=4, max_tokens=64, multiple=8)
    assert [i for batch in batches for i in batch] == order.tolist()
    assert batches[0] == [6]  # longer than the budget: alone
    for batch in batches:
        padded = max(-(-lengths[i] // 8) * 8 for i in batch)
        assert len(batch) <= 4 and (len(batch) == 1 or padded * len(batch) <= 64)
    assert token_budget_batches(order, lengths, max_rows=3, max_tokens=None) == [
        order[i : i + 3].tolist() for i in range(0, 10, 3)
    ]


def test_unpermute_restores_every_nested_array() -> None:
    order = np.array([2, 0, 3, 1])
    rows = np.arange(4)
    logits = np.stack([rows * 10, rows * 10 + 1], axis=1)  # row r of the original: [10r, 10r + 1]
    generated = np.array([[1, 2, -100], [3, -100, -100], [4, 5, 6], [7, -100, -100]])  # padded ids
    sorted_predictions = (logits[order], {"ids": generated[order]}, np.float32(0.5))
    start, nested, scalar = unpermute(sorted_predictions, order)
    np.testing.assert_array_equal(start, logits)
    np.testing.assert_array_equal(nested["ids"], generated)
    assert scalar == np.float32(0.5)


@pytest.fixture
def trained_run(sentiment_rows, write_data, tiny_flags) -> Path:
    """A tiny model that learned the one-word rule, so that a misplaced answer changes labels and scores."""
    train_file = write_data("train.jsonl", varied_rows(sentiment_rows, 160, seed=0))
    steps = ["--max_steps", "60", "--learning_rate", "1e-2"]
    args = parse_arguments(ClassificationTask, ["--train_file", train_file, *tiny_flags, *steps])
    workflow.train("classification", args, "test")
    return Path(tiny_flags[tiny_flags.index("--output_dir") + 1])


def _predict(run: Path, test_file: str, tmp_path: Path, name: str, *flags: str) -> list[dict]:
    output = tmp_path / f"{name}.jsonl"
    argv = ["--model_name_or_path", str(run), "--test_file", test_file, "--output_file", str(output), *flags]
    argv += ["--max_seq_length", "32"]  # the tiny preset holds 64 positions
    rows = workflow.predict("classification", parse_arguments(ClassificationTask, argv))
    assert [json.loads(line) for line in output.read_text().splitlines()] == rows
    return rows


def test_length_sorted_prediction_answers_in_input_order(
    monkeypatch, built_trainers, trained_run, sentiment_rows, write_data, tmp_path
) -> None:
    built = built_trainers
    rows = varied_rows(sentiment_rows, 40, seed=3)
    rows["text"][7] = ""  # a row that cannot be predicted keeps its line
    test_file = write_data("test.jsonl", {"text": rows["text"]})
    common = ["--fp32", "--per_device_eval_batch_size", "8", "--skip_bad_rows"]
    plain = _predict(trained_run, test_file, tmp_path, "plain", *common, "--sort_by_length", "false")
    unsorted = loader_order(built[-1].get_test_dataloader(built[-1]._current[0]))  # token-budgeted, in order
    assert unsorted is not None and unsorted.tolist() == list(range(len(unsorted)))
    ranked = _predict(trained_run, test_file, tmp_path, "sorted", *common)
    features = built[-1]._current[0]
    loader = built[-1].get_test_dataloader(features)
    order = loader_order(loader)
    assert order is not None and order.tolist() != sorted(order.tolist())  # the batches really were reordered
    widths = [batch["input_ids"].shape[1] for batch in loader]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    budget = _predict(trained_run, test_file, tmp_path, "budget", *common, "--max_tokens_per_batch", "48")
    sizes = [batch["input_ids"].shape for batch in built[-1].get_test_dataloader(features)]
    assert all(rows_ * width <= 48 or rows_ == 1 for rows_, width in sizes) and len({s[0] for s in sizes}) > 1
    assert len(plain) == 40 and "error" in plain[7]
    assert len({row.get("label") for row in plain}) == 3  # neg, pos and the error row
    for answers in (ranked, budget):
        assert [row.get("label") for row in answers] == [row.get("label") for row in plain]
        for mine, reference in zip(answers, plain):
            if "score" in reference:
                assert mine["score"] == pytest.approx(reference["score"], abs=1e-5)
    # bf16 weights, the default on bf16 hardware (the Trainer's --bf16_full_eval): same rows, rare label flips
    monkeypatch.setattr(precision, "cpu_has_bf16_matmul", lambda: True)
    halved = _predict(trained_run, test_file, tmp_path, "bf16_weights", *common[1:])
    assert built[-1].args.bf16_full_eval is True and built[-1].model.dtype == torch.bfloat16
    assert "error" in halved[7] and len(halved) == 40
    assert sum(a.get("label") == b.get("label") for a, b in zip(halved, plain)) >= 36
    # input order, checked directly: the same row predicted alone gives the same answer
    alone = write_data("one.jsonl", {"text": [rows["text"][21]]})
    assert _predict(trained_run, alone, tmp_path, "alone", "--fp32")[0]["label"] == plain[21]["label"]
    assert built[-1].args.per_device_eval_batch_size == INFERENCE_ROWS  # the defaults of a forward-pass task
    assert built[-1].max_tokens_per_batch == INFERENCE_TOKENS


def test_length_sorted_evaluation_scores_like_dataset_order(trained_run, sentiment_rows, write_data, tmp_path) -> None:
    validation = write_data("validation.jsonl", varied_rows(sentiment_rows, 30, seed=4))
    scores = {}
    variants = {"plain": ["--sort_by_length", "false"], "sorted": [], "budget": ["--max_tokens_per_batch", "64"]}
    for name, flags in variants.items():
        argv = ["--model_name_or_path", str(trained_run), "--validation_file", validation, "--fp32", *flags]
        argv += ["--max_seq_length", "32"]
        scores[name] = workflow.evaluate("classification", parse_arguments(ClassificationTask, argv))["eval"]
    assert scores["plain"]["accuracy"] >= 0.75  # the model learned: a misplaced answer would cost accuracy
    for name in ("sorted", "budget"):
        assert scores[name]["accuracy"] == scores["plain"]["accuracy"]
        assert scores[name]["per_class"] == scores["plain"]["per_class"]


def test_batching_sizes_must_be_positive(tmp_path) -> None:
    with pytest.raises(ValueError, match="--length_group_batches 0 must be a positive"):
        parse_arguments(ClassificationTask, ["--length_group_batches", "0", "--output_dir", str(tmp_path)])
    with pytest.raises(ValueError, match="--max_tokens_per_batch -1 must be a number of tokens, or 0 for batches"):
        parse_arguments(ClassificationTask, ["--max_tokens_per_batch", "-1", "--output_dir", str(tmp_path)])


@pytest.mark.parametrize(
    ("flags", "rows", "budget"),
    [
        ([], INFERENCE_ROWS, INFERENCE_TOKENS),  # a forward-pass task: a token budget, many short rows
        (["--per_device_eval_batch_size", "8"], 8, INFERENCE_TOKENS),
        (["--max_tokens_per_batch", "0"], INFERENCE_ROWS, None),  # rows only
        (["--max_tokens_per_batch", "512"], INFERENCE_ROWS, 512),
    ],
)
def test_inference_batches_of_a_forward_pass_task(tmp_path, flags, rows, budget) -> None:
    args = parse_arguments(ClassificationTask, [*flags, "--output_dir", str(tmp_path)])
    assert args.training.per_device_eval_batch_size == (8 if flags[1:2] == ["8"] else None)  # None: not given
    assert resolve_inference_batches(args.training, args.run.max_tokens_per_batch) == budget
    assert args.training.per_device_eval_batch_size == rows


def test_inference_batches_of_generation_and_of_several_processes(tmp_path, monkeypatch) -> None:
    generation = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path), predict_with_generate=True, per_device_eval_batch_size=None, use_cpu=True
    )
    assert resolve_inference_batches(generation, None) is None  # rows, not inputs, bound beams x new tokens
    assert generation.per_device_eval_batch_size == GENERATION_ROWS
    assert resolve_inference_batches(generation, 512) == 512  # asked for
    args = parse_arguments(ClassificationTask, ["--output_dir", str(tmp_path)])
    monkeypatch.setattr(type(args.training), "world_size", property(lambda self: 2))
    resolve_inference_batches(args.training, None)
    assert args.training.per_device_eval_batch_size == GENERATION_ROWS  # shards in dataset order: no budget there


def test_feature_lengths_follow_a_selection() -> None:
    features = Dataset.from_dict({"input_ids": [[1, 2, 3], [1], [1, 2]]}).select([2, 0])
    assert feature_lengths(features).tolist() == [2, 3]
    assert feature_lengths(features, "labels") is None


# ---- torch.compile ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile_trains_and_predicts(backend, sentiment_rows, write_data, tiny_flags, tmp_path) -> None:
    """`--torch_compile` (TrainingArguments' own flag) with a transfuse model on the CPU, bf16 autocast
    training included. `aot_eager` traces forward and backward through dynamo and AOTAutograd in seconds;
    `inductor` (the default backend) also generates C++ kernels, minutes on two cores, so it runs only with
    TRANSFUSE_TEST_INDUCTOR=1 and a C++ compiler."""
    if backend == "inductor":
        if os.environ.get("TRANSFUSE_TEST_INDUCTOR") != "1":
            pytest.skip("inductor compiles for minutes on a small CPU: set TRANSFUSE_TEST_INDUCTOR=1")
        if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
            pytest.skip("torch.compile's inductor backend needs a C++ compiler")
    from torch._dynamo.utils import counters

    counters.clear()
    compile_flags = ["--torch_compile", "true", "--torch_compile_backend", backend]
    train_file = write_data("train.jsonl", sentiment_rows(24, seed=0))
    args = parse_arguments(ClassificationTask, ["--train_file", train_file, *tiny_flags, *compile_flags])
    results = workflow.train("classification", args, "test")
    assert np.isfinite(results["train"]["train_loss"])
    assert counters["stats"]["unique_graphs"] > 0  # the model really went through torch.compile
    run = Path(tiny_flags[tiny_flags.index("--output_dir") + 1])
    test_file = write_data("test.jsonl", {"text": sentiment_rows(6, seed=1)["text"]})
    compiled = _predict(run, test_file, tmp_path, "compiled", "--fp32", *compile_flags)
    eager = _predict(run, test_file, tmp_path, "eager", "--fp32")
    assert [row["label"] for row in compiled] == [row["label"] for row in eager]


def test_bf16_weights_are_for_evaluate_and_predict_only(tmp_path) -> None:
    argv = ["--train_file", "t.jsonl", "--output_dir", str(tmp_path), "--bf16_full_eval", "true"]
    with pytest.raises(ValueError, match="--bf16_full_eval casts the model's weights"):
        check_arguments(parse_arguments(ClassificationTask, argv), "train")
