"""Method/task pairs peft accepts but that cannot work are refused before training, with the reason.

The canary tests at the end reproduce, on tiny random models, the peft 0.21 + transformers 5 behaviour each
refusal rests on; if a peft release fixes it, the canary fails and the refusal can be lifted.
"""

from __future__ import annotations

import pytest
import torch
from peft import PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel

from transfuse.adapters import AdapterArguments, apply_adapter, new_module_names

from .builders import load_task_model, save_backbone


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    return tmp_path_factory.mktemp("backbones")


@pytest.mark.parametrize(
    "backbone,head,method,reason",
    [
        ("transfuse-encoder", "seq-cls", "prefix", "cache="),
        ("transfuse-decoder", "causal-lm", "prefix", "cache="),
        ("gpt2", "causal-lm", "prefix", "generate"),
        ("bart", "seq2seq-lm", "prefix", "generate"),
        ("bert", "seq-cls", "prefix", "renamed to `cache`"),
        ("gpt2", "causal-lm", "prompt", "drops the virtual tokens"),
        ("transfuse-decoder", "causal-lm", "prompt", "drops the virtual tokens"),
        ("transfuse-encoder", "token-cls", "prompt", "shifts every per-token output"),
        ("bert", "qa", "prompt", "shifts every per-token output"),
        ("gpt2", "seq-cls", "loha", "Conv1D"),
        ("gpt2", "causal-lm", "lokr", "Conv1D"),
    ],
)
def test_refused_before_training(backbone, head, method, reason, backbones):
    model, info = load_task_model(save_backbone(backbone, backbones), head)
    with pytest.raises(ValueError, match=reason) as error:
        apply_adapter(model, AdapterArguments(adapter=method), new_module_names(info, model))
    assert "--adapter" in str(error.value)


def _tiny_gpt2() -> GPT2LMHeadModel:
    torch.manual_seed(0)
    return GPT2LMHeadModel(
        GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=2, n_positions=32, bos_token_id=2, eos_token_id=3)
    ).eval()


def _generate_vs_forward(peft_model) -> list[float]:
    """Per generated step: max |score from generate() - logits of the same prefix through forward()|."""
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "prompt_encoder" in name:
                p.normal_(0, 3)  # a prompt large enough to matter
        x = torch.randint(5, 64, (1, 6), generator=torch.Generator().manual_seed(0))
        out = peft_model.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            max_new_tokens=3,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=0,
            eos_token_id=None,
        )
        gaps = []
        for step, scores in enumerate(out.scores):
            prefix = out.sequences[:, : 6 + step]
            logits = peft_model(input_ids=prefix, attention_mask=torch.ones_like(prefix)).logits[:, -1]
            gaps.append(float((logits - scores).abs().max()))
    return gaps


@pytest.mark.parametrize("config_class", [PrefixTuningConfig, PromptTuningConfig])
def test_canary_peft_generate_does_not_reproduce_the_trained_forward(config_class):
    peft_model = get_peft_model(_tiny_gpt2(), config_class(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=4))
    gaps = _generate_vs_forward(peft_model)
    assert max(gaps) > 1e-3, f"peft generate() now matches forward() ({gaps}): lift the refusal in methods.py"
