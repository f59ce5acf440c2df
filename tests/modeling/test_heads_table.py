"""The heads table (`transfuse.modeling.heads`) and everything derived from it: the Auto registration, the
config's `auto_map`, peft task types, adapter loading, the Hub's loading snippets and the pretraining objectives.
"""

from __future__ import annotations

import inspect

from peft import TaskType
from transformers import AutoModel, AutoModelForSeq2SeqLM

import transfuse.modeling as modeling
from transfuse.adapters.loading import AUTO_CLASS_BY_TASK_TYPE
from transfuse.adapters.methods import TASK_TYPES_BY_AUTO_CLASS, infer_task_type
from transfuse.cli.adapters import TASKS
from transfuse.hub import peft_auto_class
from transfuse.modeling import AUTO_MAP, HEADS, TransfuseConfig, TransfusePreTrainedModel, get_preset
from transfuse.modeling.heads import head_for
from transfuse.pretraining.objectives import OBJECTIVES

from .common import build


def test_every_transfuse_model_class_is_one_row():
    classes = {
        cls
        for _, cls in inspect.getmembers(modeling, inspect.isclass)
        if issubclass(cls, TransfusePreTrainedModel) and cls is not TransfusePreTrainedModel
    }
    assert sorted(c.__name__ for c in classes) == sorted(head.model_class.__name__ for head in HEADS)
    assert len({head.auto_class for head in HEADS}) == len({head.name for head in HEADS}) == len(HEADS)


def test_registration_and_auto_map_follow_the_table(tmp_path):
    config = get_preset("tiny")
    assert config.auto_map == AUTO_MAP and AUTO_MAP["AutoConfig"] == "configuration_transfuse.TransfuseConfig"
    for head in HEADS:
        assert head.auto_class._model_mapping[TransfuseConfig] is head.model_class
        assert AUTO_MAP[head.auto_name] == f"modeling_transfuse.{head.model_class.__name__}"
    build(head_for(AutoModelForSeq2SeqLM).model_class, get_preset("tiny", "encoder-decoder")).save_pretrained(tmp_path)
    assert (tmp_path / "modeling_transfuse.py").is_file()
    assert TransfuseConfig.from_pretrained(tmp_path).auto_map == AUTO_MAP


def test_peft_task_types_and_loading_classes():
    assert dict(TASK_TYPES_BY_AUTO_CLASS) == {
        head.auto_class: TaskType(head.peft_task_type) for head in HEADS if head.name not in ("masked-lm", "backbone")
    }
    for task_type, auto_class in AUTO_CLASS_BY_TASK_TYPE.items():
        assert head_for(auto_class).peft_task_type == task_type.value
    assert AUTO_CLASS_BY_TASK_TYPE[TaskType.FEATURE_EXTRACTION] is AutoModel
    backbone = build(modeling.TransfuseModel, get_preset("tiny"))
    classifier = build(modeling.TransfuseForSequenceClassification, get_preset("tiny"))
    assert infer_task_type(backbone) is None and infer_task_type(classifier) == TaskType.SEQ_CLS
    assert TASKS == {
        "seq-cls": "SEQ_CLS",
        "token-cls": "TOKEN_CLS",
        "qa": "QUESTION_ANS",
        "seq2seq-lm": "SEQ_2_SEQ_LM",
        "causal-lm": "CAUSAL_LM",
    }


def test_hub_and_pretraining_names_come_from_the_table():
    assert {task_type: peft_auto_class(task_type) for task_type in ("SEQ_CLS", "FEATURE_EXTRACTION", None)} == {
        "SEQ_CLS": "AutoPeftModelForSequenceClassification",
        "FEATURE_EXTRACTION": "AutoPeftModelForFeatureExtraction",
        None: "AutoPeftModel",
    }
    assert {name: objective.pipeline_tag for name, objective in OBJECTIVES.items()} == {
        "encoder": "fill-mask",
        "decoder": "text-generation",
        "encoder-decoder": "text2text-generation",
    }
