"""Is the adapter really wired in? A start-of-training check, also run by `transfuse adapters check`.

Two silent failures waste whole runs: a targeted module that the forward pass never calls (its adapter trains
nothing), and an adapter parameter that no optimizer step moves (disconnected from the loss, or frozen). The
check runs a forward pass with hooks on every adapter layer, then a few optimizer steps on the trainable
parameters, and restores the parameters and the RNG afterwards, so training starts exactly as it would without it.

Several methods start with a zero factor (LoRA's B, VeRA's lambda_b, LoHa/LoKr's second factors, AdaLoRA's E), so
their partner's gradient is exactly zero on the first step; the check therefore allows up to `max_steps` steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn

from .merge import prediction_tensor, random_sample_inputs
from .methods import infer_task_type


@dataclass
class AdapterCheckReport:
    trainable_params: int
    total_params: int
    targeted_modules: list[str]
    uncalled_modules: list[str] = field(default_factory=list)
    unchanged_parameters: list[str] = field(default_factory=list)
    steps: int = 0

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable_params / max(self.total_params, 1)

    @property
    def ok(self) -> bool:
        return not self.uncalled_modules and not self.unchanged_parameters

    def summary(self) -> str:
        lines = [
            f"trainable params: {self.trainable_params:,} of {self.total_params:,} "
            f"({self.trainable_percent:.3f}%); adapter layers: {len(self.targeted_modules)}"
        ]
        if self.uncalled_modules:
            lines.append(
                f"NOT CALLED in the forward pass ({len(self.uncalled_modules)}): "
                + ", ".join(self.uncalled_modules[:8])
            )
        if self.unchanged_parameters:
            lines.append(
                f"NOT CHANGED by {self.steps} optimizer steps ({len(self.unchanged_parameters)}): "
                + ", ".join(self.unchanged_parameters[:8])
            )
        if self.ok:
            lines.append(f"every adapter layer runs and every trainable parameter moved within {self.steps} step(s)")
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        if not self.ok:
            raise RuntimeError(
                "Adapter check failed:\n" + self.summary() + "\nFix --target_modules (they must name layers the "
                "forward pass uses) or pass --no_check_adapter to train anyway."
            )


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total), counting a bitsandbytes 4-bit weight by its logical size rather than its packed bytes."""
    trainable = total = 0
    for parameter in model.parameters():
        n = parameter.numel()
        if type(parameter).__name__ == "Params4bit" and getattr(parameter, "quant_state", None) is not None:
            n = int(torch.Size(parameter.quant_state.shape).numel())
        total += n
        trainable += n if parameter.requires_grad else 0
    return trainable, total


def _loss(model: nn.Module, inputs: dict) -> torch.Tensor:
    output = model(**inputs)
    loss = getattr(output, "loss", None)
    return loss if loss is not None else prediction_tensor(output).float().pow(2).mean()


def synthetic_batch(model: nn.Module, batch_size: int = 4, length: int = 32, seed: int = 0) -> dict:
    """Seeded random inputs with labels of the right kind for the model's head (no data needed)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inputs = random_sample_inputs(base, num_samples=batch_size, length=length, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    task_type = infer_task_type(base)
    task = task_type.value if task_type is not None else None
    length = inputs["input_ids"].shape[1]
    if task == "SEQ_CLS":
        inputs["labels"] = torch.randint(0, base.config.num_labels, (batch_size,), generator=generator)
    elif task == "TOKEN_CLS":
        inputs["labels"] = torch.randint(0, base.config.num_labels, (batch_size, length), generator=generator)
    elif task == "QUESTION_ANS":
        inputs["start_positions"] = torch.randint(0, length, (batch_size,), generator=generator)
        inputs["end_positions"] = inputs["start_positions"]
    elif task == "CAUSAL_LM":
        inputs["labels"] = inputs["input_ids"].clone()
    elif task == "SEQ_2_SEQ_LM":
        inputs["labels"] = inputs.pop("decoder_input_ids")
    return inputs


def check_adapter(model: nn.Module, inputs: dict, max_steps: int = 3, lr: float = 1e-2) -> AdapterCheckReport:
    """Check `model` (a `PeftModel`, or any model with trainable parameters) on one batch of `inputs`."""
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    counted_trainable, counted_total = count_parameters(model)
    layers = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, BaseTunerLayer) and not any(isinstance(c, BaseTunerLayer) for c in module.children())
    }
    report = AdapterCheckReport(counted_trainable, counted_total, sorted(layers))
    called: set[str] = set()
    hooks = [module.register_forward_hook(lambda *_, name=name: called.add(name)) for name, module in layers.items()]
    snapshot = {name: p.detach().clone() for name, p in trainable.items()}
    was_training = model.training
    changed: set[str] = set()
    try:
        with torch.random.fork_rng(devices=[]):
            model.train()
            optimizer = torch.optim.Adam(trainable.values(), lr=lr)  # no weight decay: only gradients move weights
            for step in range(1, max_steps + 1):
                optimizer.zero_grad(set_to_none=True)
                _loss(model, inputs).backward()
                optimizer.step()
                report.steps = step
                if step == 1:
                    for hook in hooks:
                        hook.remove()
                changed |= {name for name, p in trainable.items() if not torch.equal(p.detach(), snapshot[name])}
                if len(changed) == len(trainable):
                    break
    finally:
        for hook in hooks:
            hook.remove()
        with torch.no_grad():
            for name, p in trainable.items():
                p.copy_(snapshot[name])
                p.grad = None
        model.train(was_training)
    report.uncalled_modules = sorted(set(layers) - called)
    report.unchanged_parameters = sorted(set(trainable) - changed)
    return report


__all__ = ["AdapterCheckReport", "check_adapter", "count_parameters", "synthetic_batch"]
