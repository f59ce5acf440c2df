"""Fold an adapter into its base and export a plain model that loads without peft.

`merge_adapter` merges in memory (peft's `merge_and_unload`, after unwrapping trained heads, which peft's generic
unloader mishandles for heads that are not a single Linear, e.g. BART's `classification_head` under LoHa/LoKr/VeRA).
`merge_run` does it for a run folder: a quantized (QLoRA) base is dequantized first, so the adapter is folded into
float weights instead of being re-quantized, and the largest logit change against the unmerged model, measured
on sample inputs, is reported and written into the exported model card.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from huggingface_hub import ModelCard, ModelCardData
from peft import PeftModel
from peft.utils.other import ModulesToSaveWrapper
from torch import nn
from transformers import AutoTokenizer, PreTrainedModel

from ..common.folder import extra_tokenizer_folders
from .apply import is_quantized
from .base_folder import recorded_base
from .loading import load_base_for_adapter, training_adapter_arguments

MERGE_REPORT = "merge_report.json"
PIPELINE_TAGS = {  # peft task type -> the pipeline of the merged model
    "SEQ_CLS": "text-classification",
    "TOKEN_CLS": "token-classification",
    "QUESTION_ANS": "question-answering",
    "CAUSAL_LM": "text-generation",
    "SEQ_2_SEQ_LM": "text2text-generation",
    "FEATURE_EXTRACTION": "feature-extraction",
}


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
        raise ValueError(
            "The base is quantized: merging would re-quantize the update. Use `merge_run` (or "
            "`transfuse merge RUN_DIR`), which dequantizes the base first."
        )
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
        return (
            f"merged {self.adapter} adapter from {self.run_dir} into {self.base_model} ({base}) -> "
            f"{self.output_dir}; max |logit drift| vs the unmerged model on {self.num_samples} samples: "
            f"{self.max_logit_drift:.3g}"
        )


def merge_run(
    run_dir: str | Path,
    output_dir: str | Path,
    sample_inputs: dict | None = None,
    command: str | None = None,
    base_model_name_or_path: str | None = None,
) -> MergeReport:
    """Merge the adapter of `run_dir` into its base, save a plain safetensors model to `output_dir`, report drift.

    `sample_inputs` (tokenized batch) are the inputs on which merged and unmerged outputs are compared; seeded
    random token ids when None. `base_model_name_or_path` loads the base from there instead of the recorded base.
    """
    run_dir, output_dir = Path(run_dir), Path(output_dir)
    trained_with = training_adapter_arguments(run_dir)
    quantization = trained_with.quantization if trained_with is not None else "none"
    base = {"base_model_name_or_path": base_model_name_or_path}

    unmerged_base, peft_config = load_base_for_adapter(run_dir, quantized=True, **base)
    unmerged = PeftModel.from_pretrained(unmerged_base, run_dir)
    inputs = sample_inputs or random_sample_inputs(unmerged.get_base_model())
    reference = _predict(unmerged, inputs)
    if is_quantized(unmerged_base):
        del unmerged, unmerged_base
        float_base, _ = load_base_for_adapter(run_dir, quantized=True, **base)
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
    report = MergeReport(
        run_dir=str(run_dir),
        output_dir=str(output_dir),
        base_model=base_model_name_or_path or recorded_base(run_dir) or "",
        adapter=peft_config.peft_type.value.lower(),
        quantization=quantization,
        num_samples=int(inputs["input_ids"].shape[0]),
        max_logit_drift=drift,
    )
    (output_dir / MERGE_REPORT).write_text(json.dumps(asdict(report), indent=2) + "\n")
    pipeline_tag = PIPELINE_TAGS.get(getattr(peft_config.task_type, "value", ""))
    write_model_card(run_dir, output_dir, report, command, pipeline_tag, merged.config.model_type == "transfuse")
    return report


def _copy_tokenizer(run_dir: Path, output_dir: Path) -> None:
    """The run's tokenizer, and a task's own ones in subfolders (translation's `target_tokenizer/`)."""
    if (run_dir / "tokenizer_config.json").is_file() or (run_dir / "tokenizer.json").is_file():
        AutoTokenizer.from_pretrained(run_dir).save_pretrained(output_dir)
    for folder in extra_tokenizer_folders(run_dir):
        AutoTokenizer.from_pretrained(folder).save_pretrained(output_dir / folder.name)


def write_model_card(
    run_dir: Path,
    output_dir: Path,
    report: MergeReport,
    command: str | None,
    pipeline_tag: str | None = None,
    transfuse_model: bool = False,
) -> None:
    """The merged model's card: the training card's results and command (when there is one), with the metadata and
    loading code of a plain transformers model, and a "Merged adapter" section giving the lineage and the drift."""
    from ..common.folder import replace_section, usage_snippet  # common imports adapters: import late

    training_card = run_dir / "README.md"
    card = ModelCard.load(training_card, ignore_metadata_errors=True) if training_card.is_file() else None
    data = card.data if card is not None else ModelCardData()
    body = card.text if card is not None else f"\n# {output_dir.name}\n"
    data.library_name = "transformers"
    data.base_model = report.base_model or None
    data.pipeline_tag = data.pipeline_tag or pipeline_tag
    data.tags = sorted((set(data.tags or []) - {"peft"}) | {"transfuse", "merged-adapter", report.adapter})
    quantized = report.quantization != "none"
    base_state = f"{report.quantization} (dequantized to float32 to merge)" if quantized else "float"
    section = [
        f"This model is the {report.adapter} adapter trained in `{report.run_dir}` on the base model "
        f"`{report.base_model}`, folded into the base's weights with `transfuse merge`: a plain transformers model "
        "that loads without peft or the base.",
        "",
        "| adapter | base model | base during training | samples | max abs logit drift vs unmerged |",
        "|---|---|---|---|---|",
        f"| {report.adapter} | `{report.base_model}` | {base_state} | {report.num_samples} | "
        f"{report.max_logit_drift:.3g} |",
        "",
    ]
    if command:
        section += ["Command:", "", "```bash", command, "```", ""]
    body = replace_section(body, "Merged adapter", "\n".join(section))
    if data.pipeline_tag:
        usage = usage_snippet(data.pipeline_tag, output_dir, transfuse_model)
        body = replace_section(body, "How to use it", f"```python\n{usage}\n```\n")
    ModelCard(f"---\n{data.to_yaml()}\n---\n{body}").save(output_dir / "README.md")


__all__ = ["MergeReport", "merge_adapter", "merge_run", "prediction_tensor", "unwrap_trained_heads"]
