"""Every adapter method x every head it supports, on transfuse and on tiny random BERT / GPT-2 / BART.

In the style of peft's `test_custom_models.py`: `TEST_CASES` rows of (name, backbone, head, method, kwargs) feed
one parametrized test that runs the shared `_check_*` helpers: a few training steps in which every adapter
parameter gets a non-zero gradient and moves, a save and a reload of the adapter *alone* (base from its path)
with identical outputs, and a merge within 1e-4 of the unmerged model where the method has weights to merge.
Backbones are saved once per session and task heads are loaded from them, so the heads are genuinely new.
"""

from __future__ import annotations

import pytest
import torch

from transfuse.adapters import (
    AdapterArguments,
    apply_adapter,
    load_for_inference,
    merge_adapter,
    new_module_names,
    save_for_inference,
)

from .builders import load_task_model, output_tensor, sample_inputs, save_backbone

MODULE_METHODS = ["lora", "dora", "rslora", "ia3", "adalora", "loha", "lokr", "vera"]
METHOD_KWARGS = {
    "adalora": {"adalora_total_step": 10, "adalora_init_r": 4, "adalora_target_r": 2},
    "vera": {"vera_r": 16},
    "prompt": {"num_virtual_tokens": 3},
}
TRANSFUSE_HEADS = [
    ("transfuse-encoder", "seq-cls"),
    ("transfuse-encoder", "token-cls"),
    ("transfuse-encoder", "qa"),
    ("transfuse-decoder", "seq-cls"),
    ("transfuse-decoder", "causal-lm"),
    ("transfuse-seq2seq", "seq-cls"),
    ("transfuse-seq2seq", "seq2seq-lm"),
]
HF_HEADS = [
    ("bert", "seq-cls"),
    ("gpt2", "seq-cls"),
    ("gpt2", "causal-lm"),
    ("bart", "seq-cls"),
    ("bart", "seq2seq-lm"),
]
# LoHa/LoKr cannot wrap GPT-2's Conv1D (refused, see test_refusals.py); prompt tuning supports sequence-level heads
# and seq2seq (BART's classification head takes no inputs_embeds).
UNSUPPORTED = {("loha", "gpt2"), ("lokr", "gpt2")}
PROMPT_HEADS = [
    ("transfuse-encoder", "seq-cls"),
    ("transfuse-decoder", "seq-cls"),
    ("transfuse-seq2seq", "seq-cls"),
    ("transfuse-seq2seq", "seq2seq-lm"),
    ("bert", "seq-cls"),
    ("gpt2", "seq-cls"),
    ("bart", "seq2seq-lm"),
]

TEST_CASES = [
    (f"{method}-{backbone}-{head}", backbone, head, method, METHOD_KWARGS.get(method, {}))
    for method in MODULE_METHODS
    for backbone, head in TRANSFUSE_HEADS + HF_HEADS
    if (method, backbone) not in UNSUPPORTED
]
TEST_CASES += [(f"{m}-bert-{h}", "bert", h, m, {}) for m in ("lora", "ia3") for h in ("token-cls", "qa")]
TEST_CASES += [(f"prompt-{b}-{h}", b, h, "prompt", METHOD_KWARGS["prompt"]) for b, h in PROMPT_HEADS]


@pytest.fixture(scope="session")
def backbones(tmp_path_factory):
    return tmp_path_factory.mktemp("backbones")


def _forward_inputs(inputs: dict, head: str) -> dict:
    forward = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    if head == "seq2seq-lm":
        forward["decoder_input_ids"] = inputs["labels"]
    return forward


def _check_training_steps(model, inputs, steps: int = 3) -> None:
    """Every adapter parameter gets a non-zero gradient and moves within `steps` optimizer steps (a zero-initialised
    factor, like LoRA's B, makes its partner's first gradient exactly zero), and the loss stays finite."""
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, "the adapter made nothing trainable"
    start = {n: p.detach().clone() for n, p in trainable.items()}
    got_gradient: set[str] = set()
    optimizer = torch.optim.Adam(trainable.values(), lr=1e-2)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(**inputs).loss
        assert torch.isfinite(loss)
        loss.backward()
        got_gradient |= {n for n, p in trainable.items() if p.grad is not None and p.grad.abs().sum() > 0}
        optimizer.step()
    assert set(trainable) == got_gradient, f"no gradient reached {sorted(set(trainable) - got_gradient)[:5]}"
    unmoved = [n for n, p in trainable.items() if torch.equal(p.detach(), start[n])]
    assert not unmoved, f"never updated: {unmoved[:5]}"


def _check_reload_alone(model, args, forward, run_dir) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        expected = output_tensor(model(**forward))
    save_for_inference(model, run_dir, args)
    reloaded = load_for_inference(run_dir)
    with torch.no_grad():
        torch.testing.assert_close(output_tensor(reloaded(**forward)), expected, rtol=0, atol=0)
    return expected


def _check_merge(run_dir, forward, expected) -> None:
    merged = merge_adapter(load_for_inference(run_dir))
    assert not any("lora_" in n or "modules_to_save" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(output_tensor(merged(**forward)), expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name,backbone,head,method,kwargs", TEST_CASES, ids=[c[0] for c in TEST_CASES])
def test_adapter_method(name, backbone, head, method, kwargs, backbones, tmp_path):
    model, loading_info = load_task_model(save_backbone(backbone, backbones), head)
    args = AdapterArguments(adapter=method, **kwargs)
    model = apply_adapter(model, args, new_module_names(loading_info, model))
    inputs = sample_inputs(head, model)

    _check_training_steps(model, inputs)
    forward = _forward_inputs(inputs, head)
    expected = _check_reload_alone(model, args, forward, tmp_path / "run")
    if not args.is_prompt_learning:
        _check_merge(tmp_path / "run", forward, expected)
