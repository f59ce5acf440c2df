"""The table of transfuse heads: per head, the facts every other module derives from it.

One row per head: its short name, the `transformers` Auto class that builds and loads it, the transfuse class,
the peft `TaskType` (which `PeftModelFor*` wrapper an adapter gets) and the `transformers.pipeline` task (the
Hub `pipeline_tag`). The Auto registration and the config's `auto_map` (`transfuse.modeling`), the adapter
code (`transfuse.adapters.methods`, `.loading`), the Hub code (`transfuse.hub`) and the pretraining objectives
read it, so a new head is one row here plus its class in `modeling_transfuse.py`.

This module is not shipped next to a checkpoint (only `configuration_transfuse.py` and `modeling_transfuse.py`
are, for `trust_remote_code`); the `auto_map` it derives is written into every `config.json` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from . import modeling_transfuse as classes
from .configuration_transfuse import TransfuseConfig

# peft's task type of a bare backbone; an adapter on one gets a plain `PeftModel` unless asked for this
FEATURE_EXTRACTION = "FEATURE_EXTRACTION"


@dataclass(frozen=True)
class Head:
    """One head of the transfuse family.

    Attributes:
        name: short name (`transfuse adapters check --task`).
        auto_class: the `AutoModelFor...` class that builds and loads it.
        model_class: the transfuse class.
        peft_task_type: the value of peft's `TaskType` for it, or None where peft has no wrapper (masked LM).
        pipeline_tag: the `transformers.pipeline` task of a model with this head (model cards, usage snippets).
    """

    name: str
    auto_class: type
    model_class: type
    peft_task_type: str | None
    pipeline_tag: str

    @property
    def auto_name(self) -> str:
        return self.auto_class.__name__


# In this order, a checkpoint's class is looked up in the Auto mappings: a seq2seq class also appears in the
# masked-LM mapping (BART), never the reverse, and every family has a backbone, so it comes last.
HEADS: tuple[Head, ...] = (
    Head(
        "seq-cls",
        AutoModelForSequenceClassification,
        classes.TransfuseForSequenceClassification,
        "SEQ_CLS",
        "text-classification",
    ),
    Head(
        "token-cls",
        AutoModelForTokenClassification,
        classes.TransfuseForTokenClassification,
        "TOKEN_CLS",
        "token-classification",
    ),
    Head(
        "qa",
        AutoModelForQuestionAnswering,
        classes.TransfuseForQuestionAnswering,
        "QUESTION_ANS",
        "question-answering",
    ),
    Head(
        "seq2seq-lm",
        AutoModelForSeq2SeqLM,
        classes.TransfuseForConditionalGeneration,
        "SEQ_2_SEQ_LM",
        "text2text-generation",
    ),
    Head("causal-lm", AutoModelForCausalLM, classes.TransfuseForCausalLM, "CAUSAL_LM", "text-generation"),
    Head("masked-lm", AutoModelForMaskedLM, classes.TransfuseForMaskedLM, None, "fill-mask"),
    Head("backbone", AutoModel, classes.TransfuseModel, FEATURE_EXTRACTION, "feature-extraction"),
)


def head_for(auto_class: type) -> Head:
    """The row of `auto_class` (e.g. `AutoModelForSequenceClassification`)."""
    for head in HEADS:
        if head.auto_class is auto_class:
            return head
    raise KeyError(f"{getattr(auto_class, '__name__', auto_class)} is not in transfuse.modeling.heads.HEADS")


def auto_map() -> dict[str, str]:
    """The `auto_map` of a transfuse `config.json`: each Auto class -> its class in the shipped code, so the
    folder (or Hub repo) loads with `trust_remote_code=True` where transfuse is not installed."""

    def reference(cls: type) -> str:
        return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"

    heads = {head.auto_name: reference(head.model_class) for head in HEADS}
    return {"AutoConfig": reference(TransfuseConfig), **heads}


__all__ = ["FEATURE_EXTRACTION", "HEADS", "Head", "auto_map", "head_for"]
