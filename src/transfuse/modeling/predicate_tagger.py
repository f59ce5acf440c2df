"""`PredicateTaggerForTokenClassification`: a token tagger that reads every word next to the marked word.

Semantic role labelling tags each word of a sentence relative to one predicate. A plain token-classification head
sees each word's vector alone, and must find the predicate through attention; Shi and Lin (2019, "Simple BERT
Models for Relation Extraction and Semantic Role Labeling") join each word's vector with the predicate's before the
classifier, so the head compares the two directly. This model does that over any encoder `AutoModel` builds (BERT,
MiniLM, ELECTRA, a transfuse encoder):

    h = encoder(input_ids, attention_mask, token_type_ids)           # (B, T, H)
    p = mean of h over the marked sub-words (token_type_ids == 1)     # (B, H); zeros where nothing is marked
    logits = classifier(dropout([h ; p]))                            # (B, T, 2H) -> (B, T, num_labels)

The classifier is one linear layer, or with `classifier_hidden_size` a hidden layer (linear, GELU, dropout, linear),
which lets a word's scores depend on the word and the predicate together rather than on a sum of the two.

The marked sub-words are the predicate's under SRL's `indicator` marking (and the predicate word again, as the
second segment, under `pair`), so the model takes exactly the inputs of `AutoModelForTokenClassification` and
serves the SRL task, its pipeline and the `Trainer` unchanged. A sentence with nothing marked (the predicate
identifier's input) reads zeros in place of the predicate's vector. The encoder must have a token-type embedding.

The config (`model_type="predicate_tagger"`) holds the encoder's config as `encoder`; the weights are the encoder's
under `encoder.` and the `classifier`. `from_pretrained` (and `AutoModelForTokenClassification.from_pretrained` once
this type is registered) reads either a folder of this model or a plain encoder checkpoint, which gets a new head.
This file imports only torch and transformers: `save_pretrained` ships it with the weights, so a folder loads with
`trust_remote_code=True` where transfuse is not installed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.configuration_utils import SubConfigSpec
from transformers.loss.loss_utils import ForTokenClassification
from transformers.modeling_outputs import TokenClassifierOutput

# `from_pretrained` keyword arguments that say where a checkpoint is, which `AutoConfig` also takes
_HUB_KWARGS = ("revision", "trust_remote_code", "cache_dir", "token", "local_files_only", "subfolder")
# what `from_pretrained` sets on a model loaded in 4/8 bit, taken over from the encoder
_QUANTIZATION_STATE = ("hf_quantizer", "is_quantized", "is_loaded_in_4bit", "is_loaded_in_8bit", "quantization_method")
# what the task writes on the encoder's config that belongs to the tagger (the label set), and the padding id
_KEYS_FROM_ENCODER = ("id2label", "label2id", "pad_token_id", "classifier_hidden_size")


class PredicateTaggerConfig(PreTrainedConfig):
    r"""Configuration of a `PredicateTaggerForTokenClassification`.

    Args:
        encoder (`PreTrainedConfig` or `dict`): the encoder's config (any model type `AutoModel` builds, with a
            token-type embedding: `type_vocab_size >= 2`).
        classifier_dropout (`float`, *optional*): dropout before the classifier; defaults to the encoder's
            `classifier_dropout`, else its `hidden_dropout_prob`, else 0.1.
        classifier_hidden_size (`int`, *optional*): the width of a hidden layer (GELU) in the classifier; None
            (the default) makes the classifier one linear layer.
        num_labels, id2label, label2id: the tag set, as for any token-classification model.
    """

    model_type = "predicate_tagger"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PreTrainedConfig | dict | None = None
    classifier_dropout: float | int | None = None
    classifier_hidden_size: int | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.classifier_dropout is None:
            fallback = getattr(self.encoder, "classifier_dropout", None)
            if fallback is None:
                fallback = getattr(self.encoder, "hidden_dropout_prob", 0.1)
            self.classifier_dropout = fallback

    @classmethod
    def for_encoder(cls, encoder: PreTrainedConfig, **kwargs: Any) -> PredicateTaggerConfig:
        """The tagger over `encoder`, taking over the label set that a task wrote on the encoder's config (and its
        padding id, which the Trainer compares with the tokenizer's)."""
        taken = {key: getattr(encoder, key) for key in _KEYS_FROM_ENCODER if getattr(encoder, key, None) is not None}
        return cls(encoder=encoder, **{**taken, **kwargs})


class PredicateTaggerForTokenClassification(PreTrainedModel):
    """An encoder and a classifier over [each sub-word's vector ; the marked sub-words' mean vector]."""

    config_class = PredicateTaggerConfig
    base_model_prefix = "encoder"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def __init__(self, config: PredicateTaggerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.encoder = _without_pooler(AutoModel.from_config(config.encoder))
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = _classifier(2 * config.encoder.hidden_size, config.classifier_hidden_size, config)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear) and any(module is layer for layer in self.classifier.modules()):
            nn.init.normal_(module.weight, std=getattr(self.config.encoder, "initializer_range", 0.02))
            nn.init.zeros_(module.bias)  # the encoder, a `PreTrainedModel`, initialises its own modules

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.encoder.set_input_embeddings(value)

    # ---- loading a plain encoder under a new head ------------------------------------------------------

    @classmethod
    def from_config(cls, config: PreTrainedConfig, **kwargs: Any) -> PredicateTaggerForTokenClassification:
        """A new model (random weights) from a tagger config, or from an encoder's config under a new head."""
        if not isinstance(config, PredicateTaggerConfig):
            config = PredicateTaggerConfig.for_encoder(config)
        return cls._from_config(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, config: Any = None, **kwargs: Any):
        """A folder of this model, as usual; or a plain encoder checkpoint (BERT, MiniLM, ...) under a new head,
        with `config` the encoder's config (labels on it) or a tagger config to build. A tagger config beside a
        plain encoder's weights (an adapter run's `base/` folder) loads the encoder from those weights."""
        hub = {key: kwargs[key] for key in _HUB_KWARGS if key in kwargs}
        stored = AutoConfig.from_pretrained(pretrained_model_name_or_path, **hub)
        with_info = kwargs.pop("output_loading_info", False)
        if isinstance(stored, PredicateTaggerConfig):
            model, info = super().from_pretrained(
                pretrained_model_name_or_path, *args, config=config, output_loading_info=True, **kwargs
            )
            if not any(key.startswith("encoder.") for key in info["missing_keys"]):
                return (model, info) if with_info else model
            config = model.config
        model, info = cls._with_encoder_from(pretrained_model_name_or_path, config or stored, *args, **kwargs)
        return (model, info) if with_info else model

    @classmethod
    def _with_encoder_from(
        cls, path: Any, config: PreTrainedConfig, *args: Any, **kwargs: Any
    ) -> tuple[PredicateTaggerForTokenClassification, dict[str, list]]:
        """A new head over the encoder whose weights are at `path` (the loading info names the head missing)."""
        if not isinstance(config, PredicateTaggerConfig):
            config = PredicateTaggerConfig.for_encoder(config)
        kwargs.pop("ignore_mismatched_sizes", None)  # the head is new; the encoder's shape is the checkpoint's
        kwargs = {key: value for key, value in kwargs.items() if not key.startswith("_")}  # an Auto class's own
        encoder, info = AutoModel.from_pretrained(
            path, *args, config=config.encoder, output_loading_info=True, **kwargs
        )
        model = cls(config)
        model.encoder = _without_pooler(encoder)
        model.config.encoder = encoder.config
        model.config._name_or_path = model.name_or_path = str(path)  # the base an adapter records
        for name in _QUANTIZATION_STATE:  # a 4/8-bit encoder makes the model quantized (peft's k-bit preparation)
            if name in vars(encoder):
                setattr(model, name, getattr(encoder, name))
        if getattr(encoder.config, "quantization_config", None) is not None:
            model.config.quantization_config = encoder.config.quantization_config
        if isinstance(kwargs.get("dtype"), torch.dtype):
            model.classifier.to(kwargs["dtype"])
        kept = model.state_dict()  # not the dropped pooler's weights
        missing = [f"encoder.{name}" for name in info.get("missing_keys", ()) if f"encoder.{name}" in kept]
        missing += [f"classifier.{name}" for name, _ in model.classifier.named_parameters()]
        unexpected = [f"encoder.{name}" for name in info.get("unexpected_keys", ())]
        return model, {**info, "missing_keys": missing, "unexpected_keys": unexpected}

    # ---- forward ---------------------------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Any,
    ) -> TokenClassifierOutput:
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "position_ids": position_ids,
            "inputs_embeds": inputs_embeds,
            "output_attentions": output_attentions,
            "output_hidden_states": output_hidden_states,
        }
        outputs = self.encoder(**{key: value for key, value in inputs.items() if value is not None}, return_dict=True)
        hidden = outputs.last_hidden_state  # (B, T, H)
        if token_type_ids is None:
            marked = torch.zeros(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        else:
            marked = token_type_ids == 1
            if attention_mask is not None:
                marked = marked & attention_mask.bool()
        weights = marked.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        predicate = (weights * hidden).sum(dim=1) / weights.sum(dim=1).clamp(min=1)  # (B, H)
        joined = torch.cat([hidden, predicate.unsqueeze(1).expand_as(hidden)], dim=-1)  # (B, T, 2H)
        logits = self.classifier(self.dropout(joined))  # (B, T, num_labels)
        loss = None
        if labels is not None:  # token-averaged over the whole batch under the Trainer (`num_items_in_batch`)
            loss = ForTokenClassification(logits, labels, self.config, **kwargs)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


def _classifier(width: int, hidden_size: int | None, config: PredicateTaggerConfig) -> nn.Module:
    """One linear layer from `width` to the labels, or two with a GELU (and dropout) between them."""
    if hidden_size is None:
        return nn.Linear(width, config.num_labels)
    return nn.Sequential(
        nn.Linear(width, hidden_size),  # (B, T, 2H) -> (B, T, hidden)
        nn.GELU(),
        nn.Dropout(config.classifier_dropout),
        nn.Linear(hidden_size, config.num_labels),  # (B, T, hidden) -> (B, T, num_labels)
    )


def _without_pooler(encoder: nn.Module) -> nn.Module:
    """BERT-style `AutoModel`s carry a pooler (a `dense` over [CLS]) that tagging never reads: drop it, as
    `BertForTokenClassification` builds its BERT without one, so that it neither takes LoRA nor idles in DDP."""
    if isinstance(getattr(encoder, "pooler", None), nn.Module):
        encoder.pooler = None
    return encoder


__all__ = ["PredicateTaggerConfig", "PredicateTaggerForTokenClassification"]
