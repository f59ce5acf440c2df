"""`TransfuseConfig`: every hyper-parameter of the transfuse Transformer, validated on construction.

One config class describes all three shapes (`architecture` = encoder, decoder or encoder-decoder), in the
typed-field style of transformers 5 configs (`configuration_llama.py`). Field names follow the HF conventions
(`hidden_size`, `num_attention_heads`, ...) so that generic tooling (Trainer, peft, accelerate, generate) finds
them. This file imports only `transformers` so that it can ship with a checkpoint for `trust_remote_code`.
"""

from __future__ import annotations

from transformers import PreTrainedConfig

ARCHITECTURES = ("encoder", "decoder", "encoder-decoder")
POSITION_EMBEDDING_TYPES = ("learned", "sinusoidal", "rotary")
HIDDEN_ACTS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish", "tanh")
CLASSIFIER_POOLINGS = ("first", "last", "mean")


class TransfuseConfig(PreTrainedConfig):
    r"""Configuration of a transfuse Transformer.

    Args:
        architecture (`str`): `"encoder"` (bidirectional, BERT-like), `"decoder"` (causal, GPT-like) or
            `"encoder-decoder"` (seq2seq, original Transformer / BART-like).
        vocab_size (`int`): size of the token vocabulary (of the encoder's, when `decoder_vocab_size` is set).
        decoder_vocab_size (`int`, *optional*): encoder-decoder only: size of a vocabulary of the decoder's own
            (a translation model with one tokenizer per language). Set, the decoder reads its own embedding table of
            this size, tied to the output projection (as `MarianConfig` with
            `share_encoder_decoder_embeddings=False`); `None` (the default), the decoder reads the encoder's table
            and writes `vocab_size` logits (one shared vocabulary).
        hidden_size (`int`): model width d; token embeddings are scaled by sqrt(d) when `scale_embedding`.
        num_attention_heads (`int`): heads per attention block; must divide `hidden_size`.
        num_hidden_layers (`int`): layers of the encoder (or of the decoder, for a decoder-only model).
        num_decoder_layers (`int`, *optional*): decoder layers of an encoder-decoder; defaults to
            `num_hidden_layers`.
        intermediate_size (`int`): inner width of the feed-forward block.
        max_position_embeddings (`int`): longest sequence the position table covers.
        type_vocab_size (`int`): size of a token-type embedding added to the token embeddings (`token_type_ids`,
            BERT's segment embedding; SRL's predicate indicator); 0 (the default) builds none and ignores
            `token_type_ids`.
        position_embedding_type (`str`): `"learned"`, `"sinusoidal"` (fixed, Vaswani et al.) or `"rotary"`.
        rope_theta (`float`): base of the rotary frequencies.
        hidden_act (`str`): feed-forward activation, a key of `transformers.activations.ACT2FN`.
        hidden_dropout_prob (`float`): dropout on embeddings and on every residual branch.
        attention_dropout (`float`): dropout on attention probabilities.
        classifier_dropout (`float`, *optional*): dropout before task heads; defaults to `hidden_dropout_prob`.
        classifier_pooling (`str`, *optional*): what the sequence-classification head reads: `"first"` token
            ([CLS]/<s>), `"last"` real token, or the `"mean"` of the real tokens (as sentence encoders and
            ModernBERT's `classifier_pooling="mean"`; suits encoders pretrained by masked LM alone, whose first
            token was never trained to summarise the sentence). Defaults to `"first"` for encoders and
            `"last"` for decoders.
        layer_norm_eps (`float`): LayerNorm epsilon.
        pre_norm (`bool`): LayerNorm before each sub-layer (GPT-2 style, with a final LayerNorm) instead of after
            the residual sum (original Transformer / BERT style, with a LayerNorm on the embeddings).
        scale_embedding (`bool`): multiply token embeddings by sqrt(hidden_size).
        attention_bias (`bool`): biases in the q/k/v/o projections.
        tie_word_embeddings (`bool`): share the input embedding matrix with the output projection.
        pad_token_id, bos_token_id, eos_token_id, decoder_start_token_id (`int`, *optional*): special token ids;
            `decoder_start_token_id` defaults to `bos_token_id` for an encoder-decoder.
        initializer_range (`float`): std of the normal initialisation of weights.
        sparse_prediction (`bool`): masked LM only: when labels are given, project only the masked positions
            (labels != -100) onto the vocabulary, so `logits` is (N_masked, V) instead of (B, T, V). The loss is
            the same; the step skips the vocabulary projection and log-softmax of the ~85% unmasked tokens
            (as ModernBERT's `sparse_prediction`). `transfuse pretrain` turns it on for new encoders.
        use_cache (`bool`): return key/value caches for fast generation.
    """

    model_type = "transfuse"
    keys_to_ignore_at_inference = ["cache"]
    # The `auto_map` written into every new config.json (each Auto class -> its head in the code shipped with the
    # checkpoint, so the folder loads with `trust_remote_code=True`). `transfuse.modeling` sets it from its heads
    # table when it registers the model; this file stays self-contained, and a config loaded as remote code
    # reads its `auto_map` from config.json.
    default_auto_map = None

    architecture: str = "encoder"
    vocab_size: int = 8000
    decoder_vocab_size: int | None = None
    hidden_size: int = 256
    num_attention_heads: int = 4
    num_hidden_layers: int = 4
    num_decoder_layers: int | None = None
    intermediate_size: int = 1024
    max_position_embeddings: int = 512
    type_vocab_size: int = 0
    position_embedding_type: str = "learned"
    rope_theta: float | int = 10000.0
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.1
    attention_dropout: float | int = 0.1
    classifier_dropout: float | int | None = None
    classifier_pooling: str | None = None
    layer_norm_eps: float = 1e-5
    pre_norm: bool = False
    scale_embedding: bool = True
    attention_bias: bool = True
    tie_word_embeddings: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | None = 3
    decoder_start_token_id: int | None = None
    initializer_range: float = 0.02
    sparse_prediction: bool = False
    use_cache: bool = True

    def __post_init__(self, **kwargs):
        self._validate()
        self.is_encoder_decoder = self.architecture == "encoder-decoder"
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_hidden_layers
        if self.decoder_start_token_id is None and self.is_encoder_decoder:
            self.decoder_start_token_id = self.bos_token_id
        super().__post_init__(**kwargs)
        if getattr(self, "auto_map", None) is None and self.default_auto_map:
            self.auto_map = dict(self.default_auto_map)

    def _validate(self) -> None:
        def choose(field: str, allowed: tuple[str, ...]) -> None:
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(
                    f"TransfuseConfig.{field}={value!r} is not supported; choose one of "
                    f"{', '.join(repr(a) for a in allowed)} (--{field})."
                )

        def positive(field: str) -> None:
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"TransfuseConfig.{field}={value!r} must be a positive integer (--{field}).")

        choose("architecture", ARCHITECTURES)
        choose("position_embedding_type", POSITION_EMBEDDING_TYPES)
        choose("hidden_act", HIDDEN_ACTS)
        if self.classifier_pooling is not None:
            choose("classifier_pooling", CLASSIFIER_POOLINGS)
        for field in (
            "vocab_size",
            "decoder_vocab_size",
            "hidden_size",
            "num_attention_heads",
            "num_hidden_layers",
            "num_decoder_layers",
            "intermediate_size",
            "max_position_embeddings",
        ):
            positive(field)
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"TransfuseConfig.hidden_size={self.hidden_size} is not divisible by num_attention_heads="
                f"{self.num_attention_heads}; pick a hidden_size that is a multiple of the head count."
            )
        if not isinstance(self.type_vocab_size, int) or self.type_vocab_size < 0:
            raise ValueError(f"TransfuseConfig.type_vocab_size={self.type_vocab_size!r} must be an integer >= 0.")
        head_dim = self.hidden_size // self.num_attention_heads
        if self.position_embedding_type == "rotary" and head_dim % 2:
            raise ValueError(
                f"Rotary positions need an even head size, got hidden_size/num_attention_heads={head_dim}; "
                "change hidden_size or num_attention_heads, or use position_embedding_type='learned'."
            )
        if self.position_embedding_type == "sinusoidal" and self.hidden_size % 2:
            raise ValueError(f"Sinusoidal positions need an even hidden_size, got {self.hidden_size}.")
        for field in ("hidden_dropout_prob", "attention_dropout", "classifier_dropout"):
            value = getattr(self, field)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"TransfuseConfig.{field}={value!r} must be in [0, 1) (--{field}).")
        if self.decoder_vocab_size is not None and self.architecture != "encoder-decoder":
            raise ValueError(
                f"TransfuseConfig.decoder_vocab_size={self.decoder_vocab_size} gives the decoder of an "
                f"encoder-decoder a vocabulary of its own, but architecture={self.architecture!r} has one "
                "vocabulary (vocab_size): drop decoder_vocab_size."
            )
        # the special ids are shared by both sides: a separate decoder vocabulary must hold them too
        vocabularies = {"vocab_size": self.vocab_size, "decoder_vocab_size": self.decoder_vocab_size}
        for field in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(self, field)
            for name, size in vocabularies.items():
                if isinstance(value, int) and size is not None and not 0 <= value < size:
                    raise ValueError(
                        f"TransfuseConfig.{field}={value} is outside the vocabulary [0, {size}) of {name}; "
                        f"set {name} to the tokenizer's length or fix the token id."
                    )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def output_vocab_size(self) -> int:
        """Size of the vocabulary the model writes (and its decoder reads): `decoder_vocab_size` when set."""
        return self.decoder_vocab_size if self.decoder_vocab_size is not None else self.vocab_size

    def get_text_config(self, decoder=None, encoder=None) -> PreTrainedConfig:
        """The base class returns a decoder view of a seq2seq config; give it the decoder's depth so caches
        built from it (`DynamicCache(config=...)` in `generate`) have one slot per decoder layer, and the
        decoder's vocabulary."""
        text_config = super().get_text_config(decoder=decoder, encoder=encoder)
        if decoder and not encoder and self.is_encoder_decoder and text_config is not self:
            text_config.num_hidden_layers = self.num_decoder_layers
            # the base class renames `decoder_vocab_size` to `vocab_size` in that view, None included
            text_config.vocab_size = self.output_vocab_size
        return text_config


__all__ = ["TransfuseConfig", "ARCHITECTURES", "CLASSIFIER_POOLINGS", "POSITION_EMBEDDING_TYPES"]
