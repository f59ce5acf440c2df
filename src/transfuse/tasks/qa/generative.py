"""Generative question answering (`transfuse train|evaluate|predict generative-qa`): write the answer.

The same SQuAD data and row checks as extractive QA (`task_data.py`), but the model generates the answer text:

* an encoder-decoder (the default for `--preset`: a transfuse encoder-decoder; any `AutoModelForSeq2SeqLM`; or
  two pretrained encoders warm-started as a `transformers.EncoderDecoderModel` with `--encoder_decoder_from
  MiniLM`) reads `question: Q context: C` and is trained on the first reference answer;
* a decoder (`--architecture decoder`, or any `AutoModelForCausalLM`) reads `context: C\\nquestion: Q\\nanswer:`
  and is trained with the loss on the answer tokens only.

Only the context is truncated, and the truncations are counted; a training question whose answer lies in the
cut-off part is left out of training (counted and reported, never trained on). SQuAD v2.0
(`--version_2_with_negative`): an unanswerable question's target is `--no_answer_text`, and generating it means
"no answer". Evaluation generates (`--num_beams`, `--max_answer_length`) and scores with the same SQuAD EM / F1
(v2: HasAns / NoAns) as extractive QA; `predict` writes `{"id", "answer", "is_impossible"}` per question, in
input order. The settings predict needs (no-answer text, lengths, format) are stored in the model config
(`generative_qa`), and the beam size and answer length in its generation config, which the pipelines read
(`generative_pipeline.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from datasets import Dataset
from transformers import PretrainedConfig, PreTrainedTokenizerBase, Seq2SeqTrainingArguments

from ...data.collators import LABEL_PAD_ID, PAD_TO_MULTIPLE_OF, seq2seq_collator
from ...metrics.qa import squad_metrics, squad_v2_metrics
from ..base import Split, Task
from .data import SquadColumns, answers_of, fix_answer_starts, ids_of
from .features import check_fast_tokenizer
from .generative_inputs import (
    answer_labels,
    decoder_features,
    decoder_input,
    decoder_prompt,
    end_id,
    seq2seq_input,
    strip_prompt,
)
from .generative_models import (
    WARM_START_MARKER,
    AutoModelForGenerativeQA,
    warm_start_encoder_decoder,
    warm_start_folder,
)
from .generative_pipeline import CONFIG_KEY, PIPELINE_TASK, as_answer, settings_of
from .task_data import SquadTaskData

logger = logging.getLogger(__name__)

DEFAULT_NO_ANSWER_TEXT = "unanswerable"
DEFAULT_MAX_ANSWER_LENGTH = 32
ARCHITECTURES = ("encoder-decoder", "decoder")
TRUNCATED, OUTSIDE = "context_truncated", "answer_cut_off"  # bookkeeping columns of preprocess


@dataclass
class GenerativeQuestionAnsweringArguments(SquadColumns):
    """SQuAD columns and versions (`SquadColumns`), the no-answer text, decoding, and the warm start."""

    # not replayed by evaluate / predict of the run (transfuse_task.json): the warm start only builds the model
    training_only: ClassVar[tuple[str, ...]] = ("encoder_decoder_from", "decoder_from")

    no_answer_text: str | None = field(
        default=None,
        metadata={
            "help": f"SQuAD v2: the text the model writes for an unanswerable question (default "
            f"{DEFAULT_NO_ANSWER_TEXT!r}; stored in the model config, which evaluate and predict read)."
        },
    )
    max_answer_length: int | None = field(
        default=None,
        metadata={
            "help": f"Longest answer, in tokens: training targets are cut there and generation stops there "
            f"(default {DEFAULT_MAX_ANSWER_LENGTH}, or the model's)."
        },
    )
    num_beams: int | None = field(
        default=None,
        metadata={"help": "Beam size of generation (default 1, greedy, or the model's generation config)."},
    )
    encoder_decoder_from: str | None = field(
        default=None,
        metadata={
            "help": "Train an encoder-decoder warm-started from this pretrained encoder (e.g. MiniLM), used "
            "as the encoder and, with new cross-attention, as the decoder (instead of --model_name_or_path)."
        },
    )
    decoder_from: str | None = field(
        default=None,
        metadata={"help": "With --encoder_decoder_from: another pretrained checkpoint for the decoder half."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for flag in ("max_answer_length", "num_beams"):
            value = getattr(self, flag)
            if value is not None and value <= 0:
                raise ValueError(f"--{flag} {value} must be a positive integer.")
        if self.no_answer_text is not None and not self.no_answer_text.strip():
            raise ValueError("--no_answer_text must be a non-empty text (e.g. 'unanswerable').")
        if self.decoder_from and not self.encoder_decoder_from:
            raise ValueError("--decoder_from names the decoder half of --encoder_decoder_from; pass both.")


class GenerativeQuestionAnsweringTask(SquadTaskData, Task):
    """Generative QA over SQuAD v1.1 / v2.0 data with an encoder-decoder or a decoder."""

    name = "generative-qa"
    pipeline_tag = PIPELINE_TASK  # a decoder's run says "text-generation" (set in attach)
    arguments_class = GenerativeQuestionAnsweringArguments
    auto_model_class = AutoModelForGenerativeQA
    training_args_class = Seq2SeqTrainingArguments
    training_defaults = {"predict_with_generate": True, "metric_for_best_model": "f1", "greater_is_better": True}
    architectures = ARCHITECTURES
    main_metric = "f1"

    def __init__(
        self, args: GenerativeQuestionAnsweringArguments, max_seq_length: int = 384, num_proc: int | None = None
    ):
        super().__init__(args, max_seq_length, num_proc)
        self.version_2_with_negative = args.version_2_with_negative
        self.no_answer_text = args.no_answer_text or DEFAULT_NO_ANSWER_TEXT
        self.max_answer_length = args.max_answer_length or DEFAULT_MAX_ANSWER_LENGTH
        self.num_beams = args.num_beams
        self.trains_model = False
        self.is_encoder_decoder = True
        self.input_limit = max_seq_length
        self.moved_answer_starts = 0
        self.counts: dict[str, dict[str, int]] = {}  # per split: rows, contexts truncated, answers cut off

    # ---- arguments -------------------------------------------------------------------------------------

    @classmethod
    def check_arguments(cls, args: Any, command: str) -> None:
        options: GenerativeQuestionAnsweringArguments = args.task
        if not options.encoder_decoder_from or command != "train":
            return  # evaluate / predict read a run folder
        if getattr(options, "warm_start", None) is not None:
            return  # checked already (the front-end and the workflow both check); the model path is the warm start
        if args.model.model_name_or_path or args.model.preset:
            flag = "--model_name_or_path" if args.model.model_name_or_path else "--preset"
            raise ValueError(
                f"--encoder_decoder_from builds the model to train from a pretrained encoder; drop {flag} (or drop "
                "--encoder_decoder_from to train that model)."
            )
        if args.adapter.enabled:
            raise ValueError(
                f"--adapter {args.adapter.adapter} with --encoder_decoder_from: the warm start's cross-attention "
                "is new and random, and an adapter would keep it frozen; fine-tune it in full (--adapter none), "
                "then train adapters on that run folder."
            )
        from ...common.arguments import parse_config_overrides

        encoder, decoder = options.encoder_decoder_from, options.decoder_from or options.encoder_decoder_from
        # --config_overrides shape the two halves (an EncoderDecoderConfig holds none of their fields itself)
        overrides = parse_config_overrides(args.model.config_overrides)
        folder = warm_start_folder(encoder, decoder, overrides)
        # built by fit(), once the data is clean
        options.warm_start = (encoder, decoder, folder, args.training.seed, overrides)
        args.model.model_name_or_path, args.model.config_overrides = str(folder), None

    def training_texts(self, examples: Dataset) -> Iterator[str]:
        """What the model reads and writes, formatted (a new tokenizer learns `question:`, `context:`, `answer:`
        and the no-answer text as words), and the answers."""
        questions, contexts = examples[self.args.question_column], examples[self.args.context_column]
        for question, context in zip(questions, contexts):
            yield decoder_prompt(question, context)
        if self.has_references(examples):
            for answers in answers_of(examples, self.args):
                yield answers["text"][0] if answers and answers["text"] else self.no_answer_text

    # ---- model shape -----------------------------------------------------------------------------------

    def fit(self, train_examples: Dataset) -> None:
        self.trains_model = True
        warm_start = getattr(self.args, "warm_start", None)
        if warm_start is not None:
            from ...training.model_source import check_model_source

            encoder, decoder, folder, seed, overrides = warm_start
            if not (folder / WARM_START_MARKER).is_file():
                check_model_source(encoder, "--encoder_decoder_from")
                if decoder != encoder:
                    check_model_source(decoder, "--decoder_from")
            warm_start_encoder_decoder(encoder, decoder, folder, seed, overrides)

    def load_from_config(self, config: PretrainedConfig) -> None:
        stored = settings_of(config)
        self.version_2_with_negative = bool(self.args.version_2_with_negative or stored.get("version_2_with_negative"))
        self.no_answer_text = self.args.no_answer_text or stored.get("no_answer_text") or DEFAULT_NO_ANSWER_TEXT
        self.max_answer_length = (
            self.args.max_answer_length or stored.get("max_answer_length") or DEFAULT_MAX_ANSWER_LENGTH
        )

    def config_updates(self) -> dict[str, Any]:
        return {
            CONFIG_KEY: {
                "version_2_with_negative": self.version_2_with_negative,
                "no_answer_text": self.no_answer_text,
                "max_answer_length": self.max_answer_length,
                "max_seq_length": self.input_limit,
            }
        }

    def max_positions(self) -> int:
        return max(self.max_seq_length, self.max_answer_length + 1)

    def attach(self, tokenizer: PreTrainedTokenizerBase, config: PretrainedConfig) -> None:
        super().attach(tokenizer, config)
        check_fast_tokenizer(
            tokenizer,
            "Generative question answering truncates long contexts at token borders through character offsets",
        )
        self.is_encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
        if not self.is_encoder_decoder:
            self.pipeline_tag = "text-generation"
            if tokenizer.pad_token_id is None:  # GPT-2 and friends: batches pad with the end token
                tokenizer.pad_token = tokenizer.eos_token
        encoder_config = getattr(config, "encoder", None)  # an EncoderDecoderModel's halves have their own configs
        source = encoder_config if isinstance(encoder_config, PretrainedConfig) else config
        positions = getattr(source, "max_position_embeddings", None)
        self.input_limit = min(self.max_seq_length, positions) if isinstance(positions, int) else self.max_seq_length
        if not self.is_encoder_decoder and self.input_limit - self.max_answer_length < 8:
            raise ValueError(
                f"--max_seq_length {self.input_limit} leaves a decoder {self.input_limit - self.max_answer_length} "
                f"tokens of prompt after --max_answer_length {self.max_answer_length}; raise --max_seq_length or "
                "lower --max_answer_length."
            )
        if self.version_2_with_negative:
            self._check_no_answer_text(tokenizer)
        # `AutoConfig.from_pretrained(path, **config_updates())` keeps only keys the config class knows, so a Hub
        # model's config would lose `generative_qa`: set it here
        config.update(self.config_updates())

    def _check_no_answer_text(self, tokenizer: PreTrainedTokenizerBase) -> None:
        """The model must be able to write the no-answer text whole: the tokenizer writes it back, and it fits in
        the answer length."""
        start = getattr(self.model_config, "decoder_start_token_id", None) if self.is_encoder_decoder else None
        if self.is_encoder_decoder:
            ids = answer_labels(tokenizer, self.no_answer_text, 10**6, start)
        else:
            ids = decoder_features(tokenizer, [], self.no_answer_text, 10**6)[1]
        written = tokenizer.decode(ids, skip_special_tokens=True).strip()
        if written.lower() != self.no_answer_text.strip().lower():
            raise ValueError(
                f"--no_answer_text {self.no_answer_text!r} comes back as {written!r} from this tokenizer, so a "
                "generated no-answer could not be recognised; choose words the tokenizer knows (e.g. 'no answer')."
            )
        length = len(ids)
        if length > self.max_answer_length:
            raise ValueError(
                f"--no_answer_text {self.no_answer_text!r} is {length} tokens (with the end token) for this "
                f"tokenizer, more than --max_answer_length {self.max_answer_length}; shorten it or raise "
                "--max_answer_length."
            )

    # ---- features --------------------------------------------------------------------------------------

    def preprocess(self, examples: Dataset, tokenizer: PreTrainedTokenizerBase, split: Split) -> Dataset:
        train = split == "train"
        with_answers = self.has_references(examples) and (train or self.is_encoder_decoder)
        args, limit, answer_limit = self.args, self.input_limit, self.max_answer_length
        decoder_start = getattr(self.model_config, "decoder_start_token_id", None)
        if not self.is_encoder_decoder:
            limit -= answer_limit

        def tokenize(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
            ids = ids_of(batch, args, offset=indices[0] if indices else 0)
            answers = answers_of(batch, args) if with_answers else [None] * len(ids)
            features: dict[str, list] = {"input_ids": [], TRUNCATED: [], OUTSIDE: []}
            if with_answers:
                features["labels"] = []
            for qid, question, context, answer in zip(
                ids, batch[args.question_column], batch[args.context_column], answers
            ):
                build = seq2seq_input if self.is_encoder_decoder else decoder_input
                fitted = build(tokenizer, question, context, limit, f"{split} id {qid!r}")
                features["input_ids"].append(fitted.ids)
                features[TRUNCATED].append(fitted.truncated)
                features[OUTSIDE].append(fitted.truncated and _cut_off(answer, context, fitted.context_chars, args))
                if not with_answers:
                    continue
                target = answer["text"][0] if answer and answer["text"] else self.no_answer_text
                if self.is_encoder_decoder:
                    features["labels"].append(answer_labels(tokenizer, target, answer_limit, decoder_start))
                else:
                    features["input_ids"][-1], labels = decoder_features(tokenizer, fitted.ids, target, answer_limit)
                    features["labels"].append(labels)
            features["attention_mask"] = [[1] * len(row) for row in features["input_ids"]]
            return features

        features = self.map(examples, tokenize, split, with_indices=True)
        counts = {
            "rows": len(features),
            "contexts_truncated": int(sum(features[TRUNCATED])),
            "answers_cut_off": int(sum(features[OUTSIDE])) if train else 0,
        }
        if train and counts["answers_cut_off"]:
            features = features.filter(lambda cut: not cut, input_columns=OUTSIDE)
            logger.warning(
                "train: %d of %d questions have their answer in the part of the context cut at %d tokens; they are "
                "left out of training (raise --max_seq_length to keep them)",
                counts["answers_cut_off"],
                counts["rows"],
                limit,
            )
        if counts["contexts_truncated"]:
            logger.info(
                "%s: %d of %d contexts truncated to fit %d tokens",
                split,
                counts["contexts_truncated"],
                counts["rows"],
                limit,
            )
        self.counts[split] = counts
        return features.remove_columns([TRUNCATED, OUTSIDE])

    def data_collator(self, tokenizer: PreTrainedTokenizerBase, model: Any = None) -> Callable:
        """Pads batches (a decoder's inference batches on the left, for generation). The one hook that sees the
        model before the Trainer: the decoding settings and special ids go into its generation config (saved
        with it, read by the pipelines)."""
        if model is not None:
            self._update_generation_config(model.generation_config, tokenizer)
        if self.is_encoder_decoder:
            return seq2seq_collator(tokenizer, model)
        return DecoderCollator(tokenizer)

    def _update_generation_config(self, generation_config: Any, tokenizer: PreTrainedTokenizerBase) -> None:
        generation_config.max_new_tokens = self.max_answer_length
        if self.num_beams is not None or self.trains_model:
            generation_config.num_beams = self.num_beams or 1
        generation_config.eos_token_id = end_id(tokenizer)
        generation_config.pad_token_id = tokenizer.pad_token_id
        if self.is_encoder_decoder and getattr(self.model_config, "decoder_start_token_id", None) is not None:
            generation_config.decoder_start_token_id = self.model_config.decoder_start_token_id
        generation_config.do_sample = False

    def generate_kwargs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_answer_length}
        if self.num_beams is not None:
            kwargs["num_beams"] = self.num_beams
        return kwargs

    # ---- outputs and metrics ---------------------------------------------------------------------------

    def postprocess(self, predictions: Any, features: Dataset, examples: Dataset) -> list[dict[str, Any]]:
        generated = np.asarray(predictions[0] if isinstance(predictions, tuple) else predictions)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        generated = np.where(generated == LABEL_PAD_ID, pad, generated)
        if self.is_encoder_decoder:
            rows = generated.tolist()
        else:
            rows = [strip_prompt(row, prompt, pad) for row, prompt in zip(generated.tolist(), features["input_ids"])]
        texts = [text.strip() for text in self.tokenizer.batch_decode(rows, skip_special_tokens=True)]
        settings = {"version_2_with_negative": self.version_2_with_negative, "no_answer_text": self.no_answer_text}
        return [{"id": qid, **as_answer(text, settings)} for qid, text in zip(ids_of(examples, self.args), texts)]

    def compute_metrics(self, outputs: list[dict[str, Any]], examples: Dataset) -> dict[str, Any]:
        references = [answers["text"] if answers else [] for answers in answers_of(examples, self.args)]
        predictions = [output["answer"] for output in outputs]
        if self.version_2_with_negative:
            metrics: dict[str, Any] = squad_v2_metrics(predictions, references)
        else:
            metrics = squad_metrics(predictions, references)
        for split, counts in self.counts.items():
            if split != "train":
                metrics["contexts_truncated"] = counts["contexts_truncated"]
        return metrics

    def card_metrics(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        keep = ("exact_match", "f1", "has_ans_f1", "no_ans_f1")
        return {key: float(metrics[key]) for key in keep if key in metrics}


def _cut_off(answer: dict[str, list] | None, context: str, kept: int, args: SquadColumns) -> bool:
    """Whether the first reference answer ends beyond the `kept` characters of the context."""
    if not answer or not answer["text"]:
        return False
    if args.fix_answer_starts:
        answer = fix_answer_starts(context, answer)[0]
    return answer["answer_start"][0] + len(answer["text"][0]) > kept


class DecoderCollator:
    """A decoder's batches: training rows (with labels) padded on the right, labels with -100; inference rows
    (prompts only) padded on the left, so every prompt ends where generation starts."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        labels = [feature["labels"] for feature in features] if "labels" in features[0] else None
        # generation appends up to --max_answer_length tokens to the padded prompts, which the prompt budget
        # leaves room for only without extra padding: inference batches pad to their longest prompt exactly
        batch = self.tokenizer.pad(
            [{key: value for key, value in feature.items() if key != "labels"} for feature in features],
            padding=True,
            pad_to_multiple_of=PAD_TO_MULTIPLE_OF if labels is not None else None,
            padding_side="right" if labels is not None else "left",
            return_tensors="pt",
        )
        if labels is not None:
            width = batch["input_ids"].shape[1]
            batch["labels"] = batch["input_ids"].new_tensor(
                [row + [LABEL_PAD_ID] * (width - len(row)) for row in labels]
            )
        return batch


__all__ = [
    "DEFAULT_NO_ANSWER_TEXT",
    "DecoderCollator",
    "GenerativeQuestionAnsweringArguments",
    "GenerativeQuestionAnsweringTask",
]
