"""Fold an adapter into its base and export a plain model that loads without peft.

`merge_adapter` merges in memory (peft's `merge_and_unload`, after unwrapping trained heads, which peft's generic
unloader mishandles for heads that are not a single Linear, e.g. BART's `classification_head` under LoHa/LoKr/VeRA).
`merge_run` does it for a run folder: a quantized (QLoRA) base is dequantized first, so the adapter is folded into
float weights instead of being re-quantized, and the largest logit change against the unmerged model, measured
on sample inputs, is reported and written into the exported model card.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from peft import PeftModel
from peft.utils.other import ModulesToSaveWrapper
from torch import nn
from transformers import AutoTokenizer, PreTrainedModel

from .apply import is_quantized
from .loading import load_base_for_adapter, training_adapter_arguments

MERGE_REPORT = "merge_report.json"


def unwrap_trained_heads(model: PeftModel) -> None:
    """Replace every `ModulesToSaveWrapper` by the active adapter's trained copy of the module, in place."""
    base = model.get_base_model()
    for name, module in list(base.named_modules()):
        if isinstance(module, ModulesToSaveWrapper) and module.active_adapters:
            base.set_submodule(name, module.modules_to_save[module.active_adapters[0]])


def merge_adapter(model: PeftModel) -> PreTrainedModel:
    """Merge the active adapter of a float `PeftModel` into its base and return the plain transformers model."""
    config = model.active_peft_config
    if config.is_prompt_learning:
        raise ValueError(
            f"A {config.peft_type.value} adapter adds virtual tokens instead of weight updates, so there is nothing "
            "to merge; serve it with `load_for_inference(RUN_DIR)` instead of `transfuse merge`."
        )
    if is_quantized(model.get_base_model()):
        raise ValueError("The base is quantized: merging would re-quantize the update. Use `merge_run` (or "
                         "`transfuse merge RUN_DIR`), which dequantizes the base first.")
    unwrap_trained_heads(model)
    return model.merge_and_unload()


def prediction_tensor(output) -> torch.Tensor:
    """The tensor a head predicts from (logits; QA: start and end logits stacked)."""
    if getattr(output, "logits", None) is not None:
        return output.logits
    return torch.stack([output.start_logits, output.end_logits], dim=-1)


def random_sample_inputs(model: nn.Module, num_samples: int = 8, length: int = 32, seed: int = 0) -> dict:
    """Seeded random token ids (past the special ids) when no sample data is given."""
    config = model.config
    length = min(length, getattr(config, "max_position_embeddings", length) or length)
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, config.vocab_size, (num_samples, length), generator=generator)
    if isinstance(getattr(config, "eos_token_id", None), int):
        input_ids[:, -1] = config.eos_token_id  # BART-style heads pool the final </s>
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    if getattr(config, "is_encoder_decoder", False):
        start = config.decoder_start_token_id if config.decoder_start_token_id is not None else 0
        inputs["decoder_input_ids"] = torch.cat([torch.full((num_samples, 1), start), input_ids[:, :-1]], dim=1)
    return inputs


@torch.no_grad()
def _predict(model: nn.Module, inputs: dict) -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    return prediction_tensor(model(**{k: v.to(device) for k, v in inputs.items()})).float().cpu()


@dataclass
class MergeReport:
    run_dir: str
    output_dir: str
    base_model: str
    adapter: str
    quantization: str
    num_samples: int
    max_logit_drift: float

    def summary(self) -> str:
        base = f"{self.quantization} base dequantized to float32" if self.quantization != "none" else "float base"
        return (f"merged {self.adapter} adapter from {self.run_dir} into {self.base_model} ({base}) -> "
                f"{self.output_dir}; max |logit drift| vs the unmerged model on {self.num_samples} samples: "
                f"{self.max_logit_drift:.3g}")


def merge_run(run_dir: str | Path, output_dir: str | Path, sample_inputs: dict | None = None,
              command: str | None = None, base_model: str | None = None) -> MergeReport:
    """Merge the adapter of `run_dir` into its base, save a plain safetensors model to `output_dir`, report drift.

    `sample_inputs` (tokenized batch) are the inputs on which merged and unmerged outputs are compared; seeded
    random token ids when None. `base_model` replaces the base recorded in the adapter's config (`transfuse merge
    --base_model_name_or_path`).
    """
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    trained_with = training_adapter_arguments(run_dir)
    quantization = trained_with.quantization if trained_with is not None else "none"

    unmerged_base, peft_config = load_base_for_adapter(run_dir, quantized=True, base_model=base_model)
    unmerged = PeftModel.from_pretrained(unmerged_base, run_dir)
    inputs = sample_inputs or random_sample_inputs(unmerged.get_base_model())
    reference = _predict(unmerged, inputs)
    if is_quantized(unmerged_base):
        del unmerged, unmerged_base
        float_base, _ = load_base_for_adapter(run_dir, quantized=True, base_model=base_model)
        float_base = float_base.dequantize(dtype=torch.float32)
        float_base.config.quantization_config = None
        merged = merge_adapter(PeftModel.from_pretrained(float_base, run_dir))
    else:
        merged = merge_adapter(unmerged)
    drift = float((_predict(merged, inputs) - reference).abs().max())

    if getattr(merged.config, "quantization_config", None) is not None:
        del merged.config.quantization_config
    merged.save_pretrained(output_dir)  # safetensors, plain transformers layout
    _copy_tokenizer(run_dir, output_dir)
    report = MergeReport(run_dir=str(run_dir), output_dir=str(output_dir),
                         base_model=base_model or peft_config.base_model_name_or_path,
                         adapter=peft_config.peft_type.value.lower(),
                         quantization=quantization, num_samples=int(inputs["input_ids"].shape[0]),
                         max_logit_drift=drift)
    (output_dir / MERGE_REPORT).write_text(json.dumps(asdict(report), indent=2) + "\n")
    write_model_card(run_dir, output_dir, report, command)
    return report


def _copy_tokenizer(run_dir: Path, output_dir: Path) -> None:
    if (run_dir / "tokenizer_config.json").is_file() or (run_dir / "tokenizer.json").is_file():
        AutoTokenizer.from_pretrained(run_dir).save_pretrained(output_dir)


def write_model_card(run_dir: Path, output_dir: Path, report: MergeReport, command: str | None) -> None:
    """Keep the training card (metrics, model-index) when there is one, and append a "Merged adapter" section."""
    section = [
        "## Merged adapter",
        "",
        f"This model is the {report.adapter} adapter trained in `{report.run_dir}` folded into "
        f"`{report.base_model}` with `transfuse merge`; it loads with plain `transformers`, without peft.",
        "",
        "| adapter | base during training | merged into | samples | max abs logit drift vs unmerged |",
        "|---|---|---|---|---|",
        f"| {report.adapter} | {report.quantization if report.quantization != 'none' else 'float'} | "
        f"{'dequantized float32 weights' if report.quantization != 'none' else 'float weights'} | "
        f"{report.num_samples} | {report.max_logit_drift:.3g} |",
        "",
    ]
    if command:
        section += ["Command:", "", "```bash", command, "```", ""]
    training_card = run_dir / "README.md"
    if training_card.is_file() and "model-index" in training_card.read_text():
        shutil.copyfile(training_card, output_dir / "README.md")
        with open(output_dir / "README.md", "a") as card:
            card.write("\n" + "\n".join(section))
        return
    header = ["---", f"base_model: {report.base_model}", "library_name: transformers",
              f"tags:\n- transfuse\n- merged-adapter\n- {report.adapter}", "---", "",
              f"# {output_dir.name}", ""]
    (output_dir / "README.md").write_text("\n".join(header + section))


__all__ = ["MergeReport", "merge_adapter", "merge_run", "prediction_tensor", "unwrap_trained_heads"]
