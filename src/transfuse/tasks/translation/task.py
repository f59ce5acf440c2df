"""`TranslationTask`: machine translation with an encoder-decoder, trained and scored through `generate()`.

The source goes to the encoder, the target is the labels (`<s> target </s>`, the decoder input is the labels
shifted right behind the decoder start token, as in BART and transfuse's denoising pretraining), the Trainer is
`Seq2SeqTrainer` with label smoothing, and validation BLEU / chrF are computed on generated translations, so
`--metric_for_best_model bleu` selects checkpoints on what users get. A model built from `--preset` is a
transfuse encoder-decoder whose one tokenizer is trained on both languages (shared, tied embeddings), or, with
`--separate_vocabularies`, one tokenizer per language and one embedding table per side (`vocabularies.py`):
targets are then tokenized, and generated ids decoded, with the target tokenizer.

Lengths: sources longer than `--max_seq_length` (or the model's positions) are truncated and counted, or
refused with `--truncation false`; targets longer than `--max_target_length` are truncated and counted.
Validation and test features are sorted by source length (batches of similar lengths pad less and stop
together) and `postprocess` puts the translations back in input order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import (
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedTokenizerBase,
    Seq2SeqTrainingArguments,
)

from ...common import builder
from ...data.collators import seq2seq_collator
from ...data.loading import RawSplit
from ...data.outputs import write_jsonl, write_lines
from ...data.validation import BadRow, DataValidationError, find_bad_texts
from ...metrics.translation import translation_metrics
from ..base import Split, Task
from .arguments import TranslationArguments
from .averaging import AverageCheckpointsCallback
from .data import read_translation_file
from .generation import CONFIG_KEY, max_new_tokens, settings_of, update_generation_config
from .vocabularies import (
    SETTINGS_KEY,
    TARGET_TOKENIZER_DIR,
    SaveTargetTokenizer,
    check_target_tokenizer,
    decode_targets,
    run_target_tokenizer_folder,
    target_tokenizer,
    train_target_tokenizer,
)

logger = logging.getLogger(__name__)

INDEX_COLUMN = "example_index"  # bookkeeping column of sorted features: the example each feature came from
ARCHITECTURE = "encoder-decoder"
CARD_METRICS = ("bleu", "chrf", "mean_length_ratio", "length_ratio", "brevity_penalty")
ATTENTION_PLOT_FILE = "attention.png"
MAX_LISTED_ROWS = 5


class TranslationTask(Task):
    """Source text in one language -> target text in another."""

    name = "translation"
    pipeline_tag = "translation"
    arguments_class = TranslationArguments
    auto_model_class = AutoModelForSeq2SeqLM
    training_args_class = Seq2SeqTrainingArguments
    training_defaults = {
        "predict_with_generate": True,
        "label_smoothing_factor": 0.1,
        "metric_for_best_model": "bleu",
        "greater_is_better": True,
    }
    architectures = (ARCHITECTURE,)
    main_metric = "bleu"

    def __init__(self, args: TranslationArguments, max_seq_length: int = 128, num_proc: int | None = None):
        super().__init__(args, max_seq_length, num_proc)
        self.source_lang = args.source_lang
        self.target_lang = args.target_lang
        self.source_prefix = args.source_prefix
        self.source_limit = max_seq_length
        self.target_limit = args.max_target_length
        self.trains_model = False  # set by fit(): unset decoding flags then get this task's defaults
        self.model: Any = None  # the model the Trainer runs (seen by data_collator), for the attention plot
        self.truncated: dict[str, dict[str, int]] = {}
        # separate vocabularies: the target side's tokenizer this run trains, or takes from the run it continues
        self.own_target_tokenizer: PreTrainedTokenizerBase | None = None
        self.target_tokenizer: PreTrainedTokenizerBase | None = None  # set by attach(); the source one when shared

    # ---- arguments -------------------------------------------------------------------------------------

    @classmethod
    def check_arguments(cls, args: Any, command: str) -> None:
        options: TranslationArguments = args.task
        if command == "train" and not (options.source_lang and options.target_lang):
            raise ValueError(
                "transfuse train translation needs the direction: --source_lang and --target_lang (e.g. "
                "--source_lang de --target_lang en)."
            )
        model = args.model
        if model.from_scratch and getattr(model, "architecture", None) != ARCHITECTURE:
            if model.architecture == "decoder":
                raise ValueError(
                    "--architecture decoder: translation here needs an encoder-decoder (--architecture "
                    f"{ARCHITECTURE}, the default for this task)."
                )
            model.architecture = ARCHITECTURE  # the shared default (encoder) cannot translate
        if command == "train":
            cls._check_vocabularies(options, model)
        if options.average_checkpoints and command != "train":
            # a run folder's saved options hold the training run's value, replayed as evaluate/predict defaults
            logger.info(
                "--average_checkpoints %d ignored: the saved model is already averaged.", options.average_checkpoints
            )
            options.average_checkpoints = 0
        if options.average_checkpoints:
            cls._check_averaging(options.average_checkpoints, args.training)
        options.plot_file = cls._plot_file(options, args, command)

    @staticmethod
    def _check_vocabularies(options: TranslationArguments, model: Any) -> None:
        """--separate_vocabularies trains both tokenizers of a new model (its target one like the source one:
        --tokenizer_kind, and --target_vocab_size or the source's size); a run trained with it keeps its target
        tokenizer when training continues from it."""
        if not model.from_scratch:
            if options.separate_vocabularies:
                raise ValueError(
                    "--separate_vocabularies trains a tokenizer per language for a new model (--preset), but "
                    f"--model_name_or_path {model.model_name_or_path!r} comes with its own; drop "
                    "--separate_vocabularies (a run trained with it keeps its two tokenizers)."
                )
            folder = run_target_tokenizer_folder(model.model_name_or_path)
            options.target_tokenizer_path = str(folder) if folder else None
            return
        if not options.separate_vocabularies:
            return
        if model.tokenizer_name:
            raise ValueError(
                f"--tokenizer_name {model.tokenizer_name!r} gives one tokenizer for both languages, but "
                "--separate_vocabularies trains one per language; drop one of the two."
            )
        options.target_vocab_size = options.target_vocab_size or builder.trained_vocab_size(model)
        options.target_tokenizer_kind = model.tokenizer_kind

    @staticmethod
    def _check_averaging(count: int, training: Any) -> None:
        strategy = str(getattr(training.save_strategy, "value", training.save_strategy))
        if strategy == "no":
            raise ValueError(
                f"--average_checkpoints {count} averages saved checkpoints, but --save_strategy is "
                "no; pass --save_strategy steps --save_steps N."
            )
        if training.save_total_limit is not None and training.save_total_limit < count:
            raise ValueError(
                f"--average_checkpoints {count} needs the last {count} checkpoints, but "
                f"--save_total_limit {training.save_total_limit} deletes older ones; raise it to "
                f"{count} or unset it."
            )
        if training.load_best_model_at_end:
            raise ValueError(
                "--average_checkpoints and --load_best_model_at_end both choose the final weights; pass only one."
            )

    @staticmethod
    def _plot_file(options: TranslationArguments, args: Any, command: str) -> Path | None:
        if not options.attention_plot:
            return None
        if command == "predict":
            output = Path(args.run.output_file or "predictions.jsonl")
            return output.with_name(output.stem + ".attention.png")
        output_dir = args.training.output_dir
        if not output_dir or output_dir == "trainer_output":
            raise ValueError(f"--attention_plot with transfuse {command} needs --output_dir DIR (the PNG goes there).")
        return Path(output_dir) / ATTENTION_PLOT_FILE

    # ---- data ------------------------------------------------------------------------------------------

    @classmethod
    def handles_file(cls, path: str) -> bool:
        """Every file: parallel text prefixes are this task's own, and csv / json files are read through the
        shared reader and then flattened (`{"translation": {...}}` -> a column per language)."""
        return True

    def read_file(self, path: str, flag: str, skip_bad_rows: bool) -> RawSplit:
        if not self.source_lang:
            raise ValueError(f"{flag} {path!r}: which language is the source? Pass --source_lang.")
        if flag == "--test_file":
            return read_translation_file(
                path, flag, skip_bad_rows, [self.source_lang], [self.target_lang] if self.target_lang else []
            )
        if not self.target_lang:
            raise ValueError(f"{flag} {path!r}: which language is the target? Pass --target_lang.")
        return read_translation_file(path, flag, skip_bad_rows, [self.source_lang, self.target_lang])

    def input_columns(self) -> dict[str, str]:
        return {self.source_lang: "--source_lang"}

    def target_columns(self) -> dict[str, str]:
        return {self.target_lang: "--target_lang"} if self.target_lang else {}

    def has_references(self, examples: Dataset) -> bool:
        return bool(self.target_lang) and self.target_lang in examples.column_names

    def find_bad_rows(self, examples: Dataset, split: Split) -> list[BadRow]:
        bad = find_bad_texts(examples[self.source_lang], self.source_lang)
        if self.has_references(examples):
            bad += find_bad_texts(examples[self.target_lang], self.target_lang)
        return bad

    def training_texts(self, examples: Dataset) -> Iterator[str]:
        """Both languages: one tokenizer (and one embedding matrix, tied) for source and target; the source alone
        with --separate_vocabularies (`fit` trains the target tokenizer)."""
        yield from examples[self.source_lang]
        if not self.args.separate_vocabularies:
            yield from examples[self.target_lang]

    # ---- model shape -----------------------------------------------------------------------------------

    def fit(self, train_examples: Dataset) -> None:
        self.trains_model = True
        if self.args.separate_vocabularies:
            if not self.args.target_vocab_size:
                raise ValueError("--separate_vocabularies needs the target vocabulary size: pass --target_vocab_size.")
            self.own_target_tokenizer = train_target_tokenizer(
                train_examples[self.target_lang],
                kind=self.args.target_tokenizer_kind,
                vocab_size=self.args.target_vocab_size,
                model_max_length=self.args.max_target_length,
            )
            logger.info("Trained the target tokenizer on the %s sentences", self.target_lang)
        elif self.args.target_tokenizer_path:
            self.own_target_tokenizer = AutoTokenizer.from_pretrained(self.args.target_tokenizer_path)

    def load_from_config(self, config: PretrainedConfig) -> None:
        """Evaluate / predict: the direction and prefix the model was trained with, unless flags name them;
        flags that contradict a transfuse-trained model's direction are refused."""
        settings = settings_of(config)
        for side in ("source_lang", "target_lang"):
            given, trained = getattr(self, side), settings.get(side)
            if given and trained and given != trained:
                raise ValueError(
                    f"--{side} {given!r}, but the model was trained to translate {settings.get('source_lang')} -> "
                    f"{settings.get('target_lang')}; drop --{side} or load a model trained for this direction."
                )
            setattr(self, side, given or trained)
        if not self.source_lang:
            raise ValueError("The model does not say which language it translates from; pass --source_lang.")
        self.source_prefix = self.source_prefix or settings.get("source_prefix", "")

    def config_updates(self) -> dict[str, Any]:
        settings = {
            "source_lang": self.source_lang,
            "target_lang": self.target_lang,
            "source_prefix": self.source_prefix,
            "max_source_length": self.max_seq_length,
            "max_length_ratio": self.args.max_length_ratio,
            "max_length_offset": self.args.max_length_offset,
        }
        updates: dict[str, Any] = {CONFIG_KEY: settings}
        if self.own_target_tokenizer is not None:
            settings[SETTINGS_KEY] = TARGET_TOKENIZER_DIR  # where evaluate, predict and the pipeline find it
            if self.args.separate_vocabularies:  # a new model: the decoder's own table, of the target's size
                updates["decoder_vocab_size"] = len(self.own_target_tokenizer)
        return updates

    def max_positions(self) -> int:
        return max(self.max_seq_length, self.args.max_target_length)

    def attach(self, tokenizer: PreTrainedTokenizerBase, config: PretrainedConfig) -> None:
        super().attach(tokenizer, config)
        positions = getattr(config, "max_position_embeddings", None)
        self.source_limit = min(self.max_seq_length, positions) if positions else self.max_seq_length
        # the decoder reads the start token + target[:-1]: at most `positions` tokens
        target = self.args.max_target_length
        self.target_limit = min(target, positions) if positions else target
        own = self.own_target_tokenizer
        self.target_tokenizer = own if own is not None else target_tokenizer(tokenizer, config)
        check_target_tokenizer(tokenizer, self.target_tokenizer, config)

    def _target_side(self, tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
        """The tokenizer of the targets: the target side's own (separate vocabularies), else `tokenizer`."""
        separate = self.target_tokenizer is not None and self.target_tokenizer is not self.tokenizer
        return self.target_tokenizer if separate else tokenizer

    # ---- features and batches --------------------------------------------------------------------------

    def preprocess(self, examples: Dataset, tokenizer: PreTrainedTokenizerBase, split: Split) -> Dataset:
        with_labels = self.has_references(examples)
        source_limit, target_limit = self.source_limit, self.target_limit
        target_side = self._target_side(tokenizer)

        def tokenize(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
            source_ids = tokenizer([self.source_prefix + text for text in batch[self.source_lang]])["input_ids"]
            features = {
                "input_ids": [_truncate(ids, source_limit) for ids in source_ids],
                "source_length": [len(ids) for ids in source_ids],  # before truncation, to count
                INDEX_COLUMN: indices,
            }
            features["attention_mask"] = [[1] * len(ids) for ids in features["input_ids"]]
            if with_labels:
                target_ids = target_side(text_target=batch[self.target_lang])["input_ids"]
                features["labels"] = [_truncate(ids, target_limit) for ids in target_ids]
                features["target_length"] = [len(ids) for ids in target_ids]
            return features

        features = self.map(examples, tokenize, split, with_indices=True)
        lengths = features["source_length"]
        self._check_source_lengths(lengths, split)
        counts = {"rows": len(lengths), "sources_truncated": sum(length > source_limit for length in lengths)}
        if with_labels:
            counts["targets_truncated"] = sum(length > target_limit for length in features["target_length"])
        self._report(split, counts)
        features = features.remove_columns(
            [column for column in ("source_length", "target_length") if column in features.column_names]
        )
        if split != "train":  # similar lengths in one batch: less padding, and the batch stops together
            features = features.select(sorted(range(len(lengths)), key=lambda index: -lengths[index]))
        return features

    def _check_source_lengths(self, lengths: list[int], split: Split) -> None:
        if self.args.truncation:
            return
        too_long = [(index, length) for index, length in enumerate(lengths) if length > self.source_limit]
        if too_long:
            listed = ", ".join(f"row {index + 1} ({length} tokens)" for index, length in too_long[:MAX_LISTED_ROWS])
            raise DataValidationError(
                f"{split}: {len(too_long)} source(s) longer than the {self.source_limit} tokens the model reads "
                f"(--max_seq_length, at most the model's positions): {listed}. Shorten them, raise "
                "--max_seq_length, or drop --truncation false to truncate them (they are counted)."
            )

    def _report(self, split: Split, counts: dict[str, int]) -> None:
        self.truncated[split] = counts
        for side, limit in (("sources", self.source_limit), ("targets", self.target_limit)):
            if counts.get(f"{side}_truncated"):
                logger.warning(
                    "%s: %d of %d %s are longer than %d tokens and were truncated",
                    split,
                    counts[f"{side}_truncated"],
                    counts["rows"],
                    side,
                    limit,
                )

    def data_collator(self, tokenizer: PreTrainedTokenizerBase, model: Any = None):
        """Pads inputs and labels (-100). The one hook that sees the model before the Trainer is built, so the
        decoding flags are written into its generation config here (saved with it, read by the pipeline)."""
        if model is not None:
            self.model = model
            changes = update_generation_config(
                model.generation_config, self.args, trained=self.trains_model, max_target_length=self.target_limit
            )
            logger.info("Decoding with %s", {key: value for key, value in changes.items() if value is not None})
        return seq2seq_collator(tokenizer, model)

    def generate_kwargs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Per-batch `generate()` arguments: at most ratio * (longest source) + offset new tokens."""
        cap = self.target_limit
        longest = int(inputs["attention_mask"].sum(dim=-1).max())
        return {
            "max_new_tokens": max_new_tokens(longest, self.args.max_length_ratio, self.args.max_length_offset, cap)
        }

    def callbacks(self) -> list:
        """Trainer callbacks of this task: checkpoint averaging when training ends; the target tokenizer saved
        with every checkpoint and the final model (separate vocabularies)."""
        callbacks: list = []
        if self.args.average_checkpoints:
            callbacks.append(AverageCheckpointsCallback(self.args.average_checkpoints))
        if self.own_target_tokenizer is not None:
            callbacks.append(SaveTargetTokenizer(self.own_target_tokenizer))
        return callbacks

    # ---- outputs and metrics ---------------------------------------------------------------------------

    def decode(self, ids: Any) -> list[str]:
        """Generated ids -> texts, read with the target tokenizer."""
        assert self.tokenizer is not None, "attach() runs before postprocess"
        return decode_targets(self._target_side(self.tokenizer), ids)

    def postprocess(self, predictions: Any, features: Dataset, examples: Dataset) -> list[dict[str, Any]]:
        texts = self.decode(predictions)
        order = features[INDEX_COLUMN] if INDEX_COLUMN in features.column_names else range(len(texts))
        outputs: list[dict[str, Any] | None] = [None] * len(examples)
        for text, index in zip(texts, order):
            outputs[index] = {"translation": text}
        missing = [index for index, output in enumerate(outputs) if output is None]
        if missing:
            raise RuntimeError(f"no translation came back for example(s) {missing[:5]}")
        self._plot_attention(examples)
        return outputs

    def _plot_attention(self, examples: Dataset) -> None:
        plot_file = getattr(self.args, "plot_file", None)
        if not self.args.attention_plot or plot_file is None or self.model is None:
            return
        from .attention import cross_attention, plot_cross_attention

        sources = [self.source_prefix + text for text in examples[self.source_lang][: self.args.attention_plot]]
        target_side = self._target_side(self.tokenizer)
        alignments = cross_attention(self.model, self.tokenizer, sources, self.source_limit, target_side)
        plot_cross_attention(alignments, plot_file)
        logger.info("Cross-attention of %d sentence(s) drawn in %s", len(alignments), plot_file)

    def compute_metrics(self, outputs: list[dict[str, Any]], examples: Dataset) -> dict[str, Any]:
        metrics = translation_metrics([output["translation"] for output in outputs], examples[self.target_lang])
        for split, counts in self.truncated.items():
            if split != "train":
                metrics["truncated"] = counts
        return metrics

    def card_metrics(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """BLEU, chrF and the length ratios; not the n-gram counts and lengths (bookkeeping)."""
        return {key: float(metrics[key]) for key in CARD_METRICS if key in metrics}

    def write_outputs(self, outputs: list[dict[str, Any]], path: str | Path) -> None:
        if self.args.output_format == "text":
            write_lines(path, (output.get("translation", "") for output in outputs))
        else:
            write_jsonl(path, outputs)


def _truncate(ids: list[int], limit: int) -> list[int]:
    """The first `limit - 1` tokens and the last one (the end-of-sequence token the tokenizer appended)."""
    return ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:]


__all__ = ["ATTENTION_PLOT_FILE", "INDEX_COLUMN", "TranslationTask"]
