"""Tiny pretrained-looking models for the adapter tests: a backbone is saved once, then each task head is loaded
from it with `output_loading_info=True`, exactly as a pipeline does, so the heads are really "new"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    BartConfig,
    BartModel,
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2Model,
)

from transfuse import TransfuseForCausalLM, TransfuseForConditionalGeneration, TransfuseModel, get_preset

VOCAB = 96


def _transfuse(architecture: str, **overrides):
    config = get_preset(
        "tiny", architecture, vocab_size=VOCAB, hidden_dropout_prob=0.0, attention_dropout=0.0, **overrides
    )
    if architecture == "decoder":
        return TransfuseForCausalLM(config)
    if architecture == "encoder-decoder":
        return TransfuseForConditionalGeneration(config)
    return TransfuseModel(config)


BACKBONES: dict[str, Callable[[], torch.nn.Module]] = {
    "transfuse-encoder": lambda: _transfuse("encoder"),
    "transfuse-decoder": lambda: _transfuse("decoder"),
    "transfuse-seq2seq": lambda: _transfuse("encoder-decoder"),
    # bitsandbytes' CPU 4-bit kernel packs weights with in_features % 64 == 0 and out_features % 32 == 0
    "transfuse-encoder64": lambda: _transfuse("encoder", hidden_size=64, intermediate_size=128),
    "transfuse-decoder64": lambda: _transfuse("decoder", hidden_size=64, intermediate_size=128),
    "bert": lambda: BertModel(
        BertConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
    ),
    "gpt2": lambda: GPT2Model(
        GPT2Config(
            vocab_size=VOCAB,
            n_embd=32,
            n_layer=2,
            n_head=2,
            n_positions=64,
            bos_token_id=2,
            eos_token_id=3,
            pad_token_id=0,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
    ),
    "bart": lambda: BartModel(
        BartConfig(
            vocab_size=VOCAB,
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=64,
            dropout=0.0,
            attention_dropout=0.0,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
            decoder_start_token_id=2,
            forced_eos_token_id=None,
        )
    ),
}

HEADS = {
    "seq-cls": (AutoModelForSequenceClassification, {"num_labels": 3}),
    "token-cls": (AutoModelForTokenClassification, {"num_labels": 4}),
    "qa": (AutoModelForQuestionAnswering, {}),
    "causal-lm": (AutoModelForCausalLM, {}),
    "seq2seq-lm": (AutoModelForSeq2SeqLM, {}),
}


@dataclass
class Case:
    backbone: str
    head: str

    @property
    def id(self) -> str:
        return f"{self.backbone}/{self.head}"


def save_backbone(name: str, directory: Path) -> Path:
    path = directory / name
    if not (path / "config.json").is_file():
        torch.manual_seed(0)
        BACKBONES[name]().save_pretrained(path)
    return path


def load_task_model(backbone_path: Path, head: str):
    """The task model as a pipeline loads it, and the loading report (what is new)."""
    auto_class, kwargs = HEADS[head]
    torch.manual_seed(1)
    return auto_class.from_pretrained(backbone_path, output_loading_info=True, **kwargs)


def sample_inputs(head: str, model, batch: int = 2, length: int = 7, seed: int = 0) -> dict[str, torch.Tensor]:
    """Inputs with labels for one training step (padding on the second row, to exercise masks)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, VOCAB, (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -2:] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    input_ids[0, -1], input_ids[1, -3] = 3, 3  # every row ends with </s> (BART pools its last <eos>)
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if head == "seq-cls":
        inputs["labels"] = torch.tensor([0, 2])
    elif head == "token-cls":
        inputs["labels"] = torch.randint(0, 4, (batch, length), generator=generator)
    elif head == "qa":
        inputs["start_positions"], inputs["end_positions"] = torch.tensor([1, 2]), torch.tensor([3, 4])
    elif head == "causal-lm":
        inputs["labels"] = input_ids.masked_fill(attention_mask == 0, -100)
    elif head == "seq2seq-lm":
        inputs["labels"] = torch.randint(5, VOCAB, (batch, 5), generator=generator)
    return inputs


def output_tensor(output) -> torch.Tensor:
    """The head's prediction tensor (QA: start and end logits side by side)."""
    if getattr(output, "start_logits", None) is not None:
        return torch.stack([output.start_logits, output.end_logits], -1)
    return output.logits
