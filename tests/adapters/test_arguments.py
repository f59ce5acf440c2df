"""`AdapterArguments`: parsed from flags and YAML next to `TrainingArguments`, impossible combinations refused."""

from __future__ import annotations

import dataclasses

import pytest
from transformers import HfArgumentParser, TrainingArguments

from transfuse.adapters import ADAPTERS, AdapterArguments, check_task_support, check_training_arguments


def test_every_field_has_help_and_no_flag_collides_with_training_arguments():
    for f in dataclasses.fields(AdapterArguments):
        assert f.metadata.get("help"), f"--{f.name} has no help text"
    adapter_fields = {f.name for f in dataclasses.fields(AdapterArguments)}
    assert not adapter_fields & {f.name for f in dataclasses.fields(TrainingArguments)}


def test_parse_flags_and_yaml(tmp_path):
    parser = HfArgumentParser((AdapterArguments, TrainingArguments))
    adapter, training = parser.parse_args_into_dataclasses(
        [
            "--adapter",
            "dora",
            "--lora_r",
            "4",
            "--target_modules",
            "q_proj",
            "v_proj",
            "--quantization",
            "4bit",
            "--bnb_4bit_quant_type",
            "fp4",
            "--no_bnb_4bit_use_double_quant",
            "--output_dir",
            str(tmp_path),
        ]
    )
    assert (adapter.adapter, adapter.lora_r, adapter.target_modules) == ("dora", 4, ["q_proj", "v_proj"])
    assert adapter.bnb_4bit_quant_type == "fp4" and adapter.bnb_4bit_use_double_quant is False
    config = tmp_path / "adapter.yaml"
    config.write_text("adapter: adalora\nadalora_total_step: 100\nllm_int8_skip_modules: [fc1]\n")
    (from_yaml,) = HfArgumentParser(AdapterArguments).parse_yaml_file(str(config))
    assert from_yaml.adapter == "adalora" and from_yaml.llm_int8_skip_modules == ["fc1"]


@pytest.mark.parametrize(
    "kwargs,flag",
    [
        ({"adapter": "bitfit"}, "--adapter"),
        ({"quantization": "3bit"}, "--quantization"),
        ({"adapter": "lora", "quantization": "4bit", "bnb_4bit_quant_type": "int4"}, "--bnb_4bit_quant_type"),
        ({"adapter": "lora", "lora_r": 0}, "--lora_r"),
        ({"adapter": "lora", "lora_dropout": 1.0}, "--lora_dropout"),
        ({"adapter": "none", "quantization": "4bit"}, "--adapter lora"),
        ({"adapter": "vera", "quantization": "8bit"}, "--adapter vera"),
        ({"adapter": "lokr", "quantization": "4bit"}, "--adapter lokr"),
        ({"adapter": "prompt", "target_modules": ["q_proj"]}, "--target_modules"),
        ({"adapter": "adalora"}, "--adalora_total_step"),
        ({"adapter": "adalora", "adalora_total_step": 10, "adalora_tinit": 8, "adalora_tfinal": 2}, "--adalora_tinit"),
        (
            {"adapter": "adalora", "adalora_total_step": 10, "adalora_init_r": 4, "adalora_target_r": 8},
            "--adalora_target_r",
        ),
    ],
)
def test_impossible_combinations_name_the_flag(kwargs, flag):
    with pytest.raises(ValueError, match=flag):
        AdapterArguments(**kwargs)


def test_every_method_parses():
    for method in ADAPTERS:
        args = AdapterArguments(adapter=method, adalora_total_step=10)
        assert args.enabled == (method != "none")


def test_adalora_budget_must_match_max_steps(tmp_path):
    args = AdapterArguments(adapter="adalora", adalora_total_step=10)
    with pytest.raises(ValueError, match="--max_steps"):
        check_training_arguments(args, TrainingArguments(output_dir=str(tmp_path), max_steps=20))
    check_training_arguments(args, TrainingArguments(output_dir=str(tmp_path), max_steps=10))


@pytest.mark.parametrize(
    "method,task_type,ok",
    [
        ("prefix", "CAUSAL_LM", False),
        ("prefix", "SEQ_2_SEQ_LM", False),
        ("prompt", "CAUSAL_LM", False),
        ("prompt", "TOKEN_CLS", False),
        ("prompt", "QUESTION_ANS", False),
        ("prompt", "SEQ_CLS", True),
        ("prompt", "SEQ_2_SEQ_LM", True),
        ("lora", "CAUSAL_LM", True),
    ],
)
def test_task_only_refusals_need_no_model(method, task_type, ok):
    args = AdapterArguments(adapter=method)
    if ok:
        check_task_support(args, task_type)
    else:
        with pytest.raises(ValueError, match=f"--adapter {method}"):
            check_task_support(args, task_type)
