"""Semantic role labelling as a transfuse task: `transfuse train|evaluate|predict srl`.

A row is a proposition (`tokens`, `predicate_index`, BIO `tags` over the words); the model is any
`AutoModelForTokenClassification` that reads the sentence with its predicate marked (`alignment.py`) and tags
every word; `decoding.py` turns the word scores into valid BIO with each core role at most once;
`metrics.srl.conll05_metrics` scores the spans the way the CoNLL-2005 script does.

With `--predicate_identifier true` (the default) the same model also learns to find predicates: every distinct
training sentence is added once without a marked predicate, tagged `B-V` on each of its predicate words. A raw
sentence (`text`, or `tokens` without `predicate_index`) then goes through the model twice, once unmarked to find
its predicates, then once per predicate; its output is `{"tokens", "frames": [one frame per predicate]}`, while a
row with `predicate_index` gets that one frame. The label list, the marking and the identifier flag are stored in
the model config (`srl_predicate_marking`, `srl_predicate_identifier`), so evaluate, predict and the pipeline read
the model the way it was trained.

`--tagging_head predicate` trains `PredicateTaggerForTokenClassification` (`transfuse.modeling.predicate_tagger`)
over the same encoder instead of its `AutoModelForTokenClassification`: each word's vector is joined with the
predicate's before the classifier (Shi & Lin 2019). Its config has its own model type, registered with
`AutoModelForTokenClassification`, so evaluate, predict and the pipeline load either head the same way.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import AutoConfig, AutoModelForTokenClassification, PretrainedConfig, PreTrainedTokenizerBase

from ...data.collators import LABEL_PAD_ID, token_collator
from ...data.outputs import write_jsonl
from ...data.validation import BadRow, DataValidationError, SkipReport
from ...metrics.srl import conll05_metrics, srl_metrics
from ...modeling.predicate_tagger import PredicateTaggerConfig
from ..base import Split, Task
from .alignment import (
    FALLBACK_MARKING,
    INDICATED,
    PREDICATE_END,
    PREDICATE_START,
    align_labels,
    encode_propositions,
    model_marking,
    word_scores,
)
from .arguments import DEFAULT_MARKING, DEFAULT_TAGGING_HEAD, TAGGING_HEADS, SrlArguments
from .data import (
    OUTSIDE,
    conll_lines,
    find_bad_propositions,
    read_conll,
    repair_bio,
    role_of,
)
from .decoding import PREDICATE_TAG, decode, frame, identified_predicates, is_valid
from .inference import find_predicates, split_words

logger = logging.getLogger(__name__)

OWN_SUFFIXES = (".conll", ".txt", ".jsonl", ".json")
PLACEHOLDER = -2  # example_index of a feature that answers no row


def _encoder_config(config: PretrainedConfig) -> PretrainedConfig:
    """The config of the model that reads the tokens: the encoder's, for a predicate tagger."""
    return config.encoder if isinstance(config, PredicateTaggerConfig) else config


def _has_token_types(config: PretrainedConfig) -> bool:
    config = _encoder_config(config)
    return config.model_type == "transfuse" or (getattr(config, "type_vocab_size", 0) or 0) >= 2


def _no_token_types(marking: str, model: str, config: PretrainedConfig) -> ValueError:
    return ValueError(
        f"--predicate_marking {marking} needs a token-type embedding, and {model} ({config.model_type}, "
        f"type_vocab_size={getattr(config, 'type_vocab_size', None)}) has none; use --predicate_marking "
        f"{FALLBACK_MARKING} or markers with this model."
    )


def _pretrained_config(path: str | None, trust_remote_code: bool) -> PretrainedConfig | None:
    """The config of the model to fine-tune; None for a model built from scratch, or one whose config cannot be
    read here (loading it reports why)."""
    if not path:
        return None
    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError):
        return None


class SrlTask(Task):
    """PropBank-style semantic role labelling: BIO tags over the words, for one predicate at a time."""

    name = "srl"
    pipeline_tag = "semantic-role-labeling"
    arguments_class = SrlArguments
    auto_model_class = AutoModelForTokenClassification
    main_metric = "f1"

    def __init__(self, args: SrlArguments, max_seq_length: int = 128, num_proc: int | None = None):
        super().__init__(args, max_seq_length, num_proc)
        self.labels: list[str] | None = None
        self.marking = args.predicate_marking or DEFAULT_MARKING
        self.identifier = args.predicate_identifier
        self._model: Any = None  # set by data_collator: the identification pass of raw sentences needs it
        self._identification: Counter | None = None
        self._answered_tokens: list[list[str]] = []

    # ---- arguments -------------------------------------------------------------------------------------

    @classmethod
    def check_arguments(cls, args: Any, command: str) -> None:
        task = args.task
        if task.output_format != "jsonl" and command != "predict":
            raise ValueError(f"--output_format {task.output_format} applies to predict only; drop it for {command}.")
        needs_token_types = task.predicate_marking in (None, *INDICATED) or task.tagging_head in (None, "predicate")
        if command != "train" or not needs_token_types:
            return
        path = getattr(args.model, "model_name_or_path", None)
        config = _pretrained_config(path, getattr(args.model, "trust_remote_code", False))
        token_types = config is None or _has_token_types(config)  # None: a transfuse model, built with them
        if task.tagging_head == "predicate" and not token_types:
            raise ValueError(
                f"--tagging_head predicate reads the predicate from token type 1, and {path} "
                f"({config.model_type}) has no token-type embedding; use --tagging_head token with this model."
            )
        if task.predicate_marking is None:
            task.predicate_marking = DEFAULT_MARKING if token_types else FALLBACK_MARKING
            if not token_types:
                logger.info(
                    "%s (%s) has no token-type embedding: marking the predicate with --predicate_marking %s",
                    path,
                    config.model_type,
                    FALLBACK_MARKING,
                )
        elif task.predicate_marking in INDICATED and not token_types:
            raise _no_token_types(task.predicate_marking, path, config)
        if task.tagging_head is None:  # the predicate head reads the predicate from the token types
            task.tagging_head = (
                DEFAULT_TAGGING_HEAD if token_types and task.predicate_marking != "markers" else "token"
            )
        if task.classifier_hidden_size is not None and task.tagging_head != "predicate":
            raise ValueError(
                f"--classifier_hidden_size shapes the predicate head, and this run trains the {task.tagging_head} "
                f"head (--predicate_marking {task.predicate_marking}); drop --classifier_hidden_size."
            )

    # ---- data ------------------------------------------------------------------------------------------

    @classmethod
    def handles_file(cls, path: str) -> bool:
        return Path(path).suffix.lower() in OWN_SUFFIXES

    def read_file(self, path: str, flag: str, skip_bad_rows: bool):
        from ...data.loading import DataLoadingError, RawSplit

        if not Path(path).is_file():
            raise FileNotFoundError(f"{flag} {path!r}: no such file (resolved to {Path(path).resolve()}).")
        suffix = Path(path).suffix.lower()
        unparsable = 0
        if suffix == ".conll":
            rows = read_conll(path)
        elif suffix == ".txt":
            with open(path, encoding="utf-8") as handle:
                rows = [{self.args.text_column: line.strip()} for line in handle if line.strip()]
        else:
            rows, unparsable = self._read_json(path, skip_bad_rows)
        if not rows:
            raise DataLoadingError(f"{flag} {path!r} holds no rows.")
        for row in rows:
            if self.args.tokens_column not in row and isinstance(row.get(self.args.text_column), str):
                row[self.args.tokens_column] = split_words(row[self.args.text_column])
            row.setdefault(self.args.predicate_column, None)
        report = SkipReport(path, total_rows=len(rows) + unparsable)
        if unparsable:
            report.add("row does not parse", unparsable)
        return RawSplit(Dataset.from_list(rows), path, report)

    @staticmethod
    def _read_json(path: str, skip_bad_rows: bool) -> tuple[list[dict], int]:
        text = Path(path).read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            return json.loads(text), 0
        rows, bad = [], 0
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                if not skip_bad_rows:
                    raise DataValidationError(
                        f"{path}, line {number}: the row does not parse as JSON: {err.msg} at column {err.colno}. "
                        "Fix the file, or pass --skip_bad_rows to drop unparsable rows (their count is reported)."
                    ) from err
                bad += 1
        return rows, bad

    def input_columns(self) -> dict[str, str]:
        return {self.args.tokens_column: "--tokens_column", self.args.predicate_column: "--predicate_column"}

    def target_columns(self) -> dict[str, str]:
        return {self.args.tags_column: "--tags_column"}

    def find_bad_rows(self, examples: Dataset, split: Split) -> list[BadRow]:
        with_tags = self.has_references(examples)
        predicates = examples[self.args.predicate_column]
        bad, notes = find_bad_propositions(
            examples[self.args.tokens_column],
            predicates,
            examples[self.args.tags_column] if with_tags else None,
            (self.args.tokens_column, self.args.predicate_column, self.args.tags_column),
            self.args.repair_bio,
        )
        flagged = {row.index for row in bad}
        for index, predicate in enumerate(predicates):
            if predicate is not None or index in flagged:
                continue
            if with_tags:
                bad.append(
                    BadRow(
                        index,
                        self.args.predicate_column,
                        "missing predicate_index",
                        "rows with tags need the index of their predicate word",
                    )
                )
            elif self.labels is not None and not self.identifier:
                bad.append(
                    BadRow(
                        index,
                        self.args.predicate_column,
                        "missing predicate_index",
                        "this model was trained with --predicate_identifier false and cannot find "
                        "predicates; give each row its predicate_index",
                    )
                )
        for note, count in notes.items():
            logger.warning("%s split: %d x %s", split, count, note)
        return bad

    def training_texts(self, examples: Dataset) -> Iterator[str]:
        seen = set()
        for words in examples[self.args.tokens_column]:
            key = tuple(words)
            if key not in seen:
                seen.add(key)
                yield " ".join(words)

    def _gold_tags(self, examples: Dataset) -> list[list[str]]:
        tags = examples[self.args.tags_column]
        return [repair_bio(row)[0] for row in tags] if self.args.repair_bio else [list(row) for row in tags]

    # ---- model shape -----------------------------------------------------------------------------------

    def fit(self, train_examples: Dataset) -> None:
        seen = {tag for row in self._gold_tags(train_examples) for tag in row}
        self.labels = [OUTSIDE, *sorted((seen | {PREDICATE_TAG}) - {OUTSIDE})]
        # the head to train; a trained model loads through `AutoModelForTokenClassification`, whichever it has
        self.auto_model_class = TAGGING_HEADS[self.args.tagging_head or "token"]

    def load_from_config(self, config: PretrainedConfig) -> None:
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        if OUTSIDE not in self.labels or PREDICATE_TAG not in self.labels:
            raise ValueError(
                f"{getattr(config, '_name_or_path', 'the model')}: its labels {self.labels[:6]} are not SRL tags "
                "(O, B-V, B-ARG0, ...); point --model_name_or_path at a model trained with `transfuse train srl`."
            )
        stored = model_marking(config)
        if self.args.predicate_marking is not None and self.args.predicate_marking != stored:
            raise ValueError(
                f"--predicate_marking {self.args.predicate_marking} differs from the model's {stored!r}: a model "
                "reads the predicate the way it was trained; drop the flag."
            )
        self.marking = stored
        self.identifier = bool(getattr(config, "srl_predicate_identifier", False))
        head = "predicate" if isinstance(config, PredicateTaggerConfig) else "token"
        if self.args.tagging_head is not None and self.args.tagging_head != head:
            raise ValueError(
                f"--tagging_head {self.args.tagging_head} differs from the model's {head!r} head: a trained model "
                "keeps the head it was trained with; drop the flag."
            )
        hidden = getattr(config, "classifier_hidden_size", None)
        if self.args.classifier_hidden_size is not None and self.args.classifier_hidden_size != hidden:
            raise ValueError(
                f"--classifier_hidden_size {self.args.classifier_hidden_size} differs from the model's {hidden}: a "
                "trained model keeps its classifier; drop the flag."
            )

    def config_updates(self) -> dict[str, Any]:
        assert self.labels is not None, "fit() or load_from_config() must run first"
        updates = {
            "num_labels": len(self.labels),
            "id2label": dict(enumerate(self.labels)),
            "label2id": {label: i for i, label in enumerate(self.labels)},
            "srl_predicate_marking": self.marking,
            "srl_predicate_identifier": self.identifier,
        }
        if self.args.classifier_hidden_size is not None:  # the predicate tagger takes it over from the encoder's
            updates["classifier_hidden_size"] = self.args.classifier_hidden_size
        if self.marking in INDICATED:
            updates["type_vocab_size"] = 2  # a transfuse model grows the table; BERT-style models already have it
        return updates

    def added_tokens(self) -> list[str]:
        return [PREDICATE_START, PREDICATE_END] if self.marking == "markers" else []

    def attach(self, tokenizer: PreTrainedTokenizerBase, config: PretrainedConfig) -> None:
        super().attach(tokenizer, config)
        # `AutoConfig.from_pretrained(path, **updates)` keeps only keys the checkpoint's config already has; set
        # ours on the loaded config so that the saved run folder records them
        for key in ("srl_predicate_marking", "srl_predicate_identifier"):
            if getattr(config, key, None) is None:
                setattr(config, key, self.marking if key == "srl_predicate_marking" else self.identifier)
        if self.marking == "markers" and tokenizer.convert_tokens_to_ids(PREDICATE_START) == tokenizer.unk_token_id:
            raise ValueError(
                f"--predicate_marking markers: the tokenizer lacks the {PREDICATE_START} / {PREDICATE_END} tokens "
                "(Task.added_tokens adds them when the model is loaded for training); use a run folder trained with "
                "markers, or --predicate_marking pair."
            )
        if self.marking in INDICATED and (getattr(_encoder_config(config), "type_vocab_size", 0) or 0) < 2:
            raise _no_token_types(self.marking, "the loaded model", config)

    # ---- features --------------------------------------------------------------------------------------

    def data_collator(self, tokenizer: PreTrainedTokenizerBase, model: Any = None):
        self._model = model
        return token_collator(tokenizer)

    def _propositions(self, examples: Dataset, split: Split) -> dict[str, list]:
        """The model inputs to build: one per row with a predicate (`example_index`), one per predicate found in a
        raw sentence (test), and one unmarked sentence per distinct sentence (`sentence_index`) when the identifier
        is trained (train) or scored (validation)."""
        tokens = examples[self.args.tokens_column]
        predicates = examples[self.args.predicate_column]
        tags = self._gold_tags(examples) if self.has_references(examples) else None
        props: dict[str, list] = {"tokens": [], "predicate": [], "tags": [], "example_index": [], "sentence_index": []}

        def add(words, predicate, row_tags, example_index, sentence_index=-1):
            props["tokens"].append(list(words))
            props["predicate"].append(predicate)
            props["tags"].append(row_tags)
            props["example_index"].append(example_index)
            props["sentence_index"].append(sentence_index)

        raw = [i for i, p in enumerate(predicates) if p is None]
        found = {}
        if raw:
            if self._model is None:
                raise RuntimeError(
                    "SrlTask.data_collator(tokenizer, model) must run before raw sentences are "
                    "preprocessed: the predicates are found with the model."
                )
            results = find_predicates(
                self._model, self.tokenizer, [tokens[i] for i in raw], self.marking, self.labels, self.max_seq_length
            )
            found = dict(zip(raw, results))
        for i, words in enumerate(tokens):
            if predicates[i] is not None:
                add(words, predicates[i], tags[i] if tags else None, i)
            for predicate in found.get(i) or []:
                add(words, predicate, None, i)
        if tags is not None and self.identifier and split in ("train", "validation"):
            for k, (words, marked) in enumerate(self._sentences(examples)):
                add(words, None, [PREDICATE_TAG if w in marked else OUTSIDE for w in range(len(words))], -1, k)
        if not props["tokens"] and len(tokens):
            # raw sentences without any predicate found: one placeholder feature (ignored by postprocess) lets the
            # evaluation loop run, so that every row still gets its (empty) answer
            add(tokens[0], None, None, PLACEHOLDER)
        return props

    def _sentences(self, examples: Dataset) -> list[tuple[list[str], set[int]]]:
        """Distinct sentences in order of appearance, each with the set of its predicate words."""
        index: dict[tuple, int] = {}
        sentences: list[tuple[list[str], set[int]]] = []
        for words, predicate in zip(examples[self.args.tokens_column], examples[self.args.predicate_column]):
            key = tuple(words)
            if key not in index:
                index[key] = len(sentences)
                sentences.append((list(words), set()))
            sentences[index[key]][1].add(predicate)
        return sentences

    def preprocess(self, examples: Dataset, tokenizer: PreTrainedTokenizerBase, split: Split) -> Dataset:
        label_ids = {label: i for i, label in enumerate(self.labels)}
        marking = self.marking

        def encode(batch: dict[str, list]) -> dict[str, list]:
            features = encode_propositions(tokenizer, batch["tokens"], batch["predicate"], marking)
            out: dict[str, list] = {key: [f[key] for f in features] for key in features[0]}
            out["example_index"], out["sentence_index"] = batch["example_index"], batch["sentence_index"]
            out["predicate_index"] = [-1 if p is None else p for p in batch["predicate"]]
            if any(tags is not None for tags in batch["tags"]):
                out["labels"] = [
                    align_labels(
                        f["word_positions"], len(f["input_ids"]), [label_ids.get(tag, LABEL_PAD_ID) for tag in tags]
                    )  # unseen role: not learned
                    for f, tags in zip(features, batch["tags"])
                ]
            return out

        props = Dataset.from_dict(self._propositions(examples, split))
        if len(props) == 0:
            return props
        features = self.map(props, encode, split)
        lengths = [len(ids) for ids in features["input_ids"]]
        too_long = [i for i, length in enumerate(lengths) if length > self.max_seq_length]
        if too_long:
            names = self._row_names(examples, [features[i]["example_index"] for i in too_long[:3]])
            logger.warning(
                "%s: %d proposition(s) longer than --max_seq_length %d sub-words left out (%s); raise "
                "--max_seq_length to keep them%s",
                split,
                len(too_long),
                self.max_seq_length,
                names,
                "" if split == "train" else ": their rows are answered with an error and score as all missed",
            )
            keep = sorted(set(range(len(features))) - set(too_long))
            features = features.select(keep)
        return features

    def _row_names(self, examples: Dataset, indexes: list[int]) -> str:
        ids = examples["sent_id"] if "sent_id" in examples.column_names else None
        return ", ".join(f"row {i + 1}" + (f" ({ids[i]})" if ids else "") if i >= 0 else "a sentence" for i in indexes)

    # ---- outputs and metrics ---------------------------------------------------------------------------

    def postprocess(self, predictions: Any, features: Dataset, examples: Dataset) -> list[dict[str, Any]]:
        logits = predictions[0] if isinstance(predictions, tuple) else predictions
        tokens = examples[self.args.tokens_column]
        given = examples[self.args.predicate_column]
        frames: dict[int, list[dict[str, Any]]] = {}
        identified: dict[int, list[int]] = {}
        columns = features.select_columns(["example_index", "sentence_index", "predicate_index", "word_positions"])
        for row, feature in enumerate(columns):
            scores = word_scores(logits[row], feature["word_positions"])
            if feature["example_index"] == PLACEHOLDER:
                continue
            if feature["example_index"] < 0:
                identified[feature["sentence_index"]] = identified_predicates(scores, self.labels)
                continue
            i, predicate = feature["example_index"], feature["predicate_index"]
            tags = decode(scores, self.labels, predicate, self.args.decoding)
            frames.setdefault(i, []).append(frame(tokens[i], predicate, tags))
        outputs = []
        for i, words in enumerate(tokens):
            if given[i] is None:
                outputs.append({"tokens": list(words), "frames": frames.get(i, [])})
            elif i in frames:
                outputs.append(frames[i][0])
            else:
                too_long = frame(words, given[i], [OUTSIDE] * len(words))
                outputs.append({**too_long, "error": f"longer than --max_seq_length {self.max_seq_length} sub-words"})
        self._identification = self._score_identification(identified, examples) if identified else None
        self._answered_tokens = [list(words) for words in tokens]
        return outputs

    def _score_identification(self, identified: dict[int, list[int]], examples: Dataset) -> Counter:
        counts: Counter = Counter()
        for k, (_, gold) in enumerate(self._sentences(examples)):
            if k not in identified:
                continue
            found = set(identified[k])
            counts["tp"] += len(found & gold)
            counts["fp"] += len(found - gold)
            counts["fn"] += len(gold - found)
        return counts

    def compute_metrics(self, outputs: list[dict[str, Any]], examples: Dataset) -> dict[str, Any]:
        references = self._gold_tags(examples)
        predicted = [output["tags"] for output in outputs]
        predicates = examples[self.args.predicate_column]
        official = conll05_metrics(predicted, references)
        known = set(self.labels)
        unseen = Counter(
            role_of(tag) for row in references for tag in row if tag not in known and tag.startswith("B-")
        )
        metrics: dict[str, Any] = {
            "precision": official["precision"],
            "recall": official["recall"],
            "f1": official["f1"],
            "perfect_propositions": official["perfect_propositions"],
            "f1_continuations_apart": srl_metrics(predicted, references)["f1"],
            "invalid_sequences": sum(not is_valid(tags, p) for tags, p in zip(predicted, predicates)),
            "too_long": sum("error" in output for output in outputs),
            "unseen_roles": dict(unseen),
            "per_role": official["per_role"],
        }
        if self._identification:
            tp, fp, fn = (self._identification[key] for key in ("tp", "fp", "fn"))
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            metrics["predicate_precision"], metrics["predicate_recall"] = precision, recall
            metrics["predicate_f1"] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if unseen:
            logger.warning("roles the model never saw in training, scored as missed: %s", dict(unseen))
        return metrics

    def card_metrics(self, metrics: dict[str, Any]) -> dict[str, float]:
        keys = ("precision", "recall", "f1", "perfect_propositions", "predicate_f1")
        return {key: float(metrics[key]) for key in keys if isinstance(metrics.get(key), (int, float))}

    def write_outputs(self, outputs: list[dict[str, Any]], path: str | Path) -> None:
        if self.args.output_format == "jsonl":
            write_jsonl(path, outputs)
            return
        write_conll_outputs(path, outputs, self._last_tokens(outputs))

    def _last_tokens(self, outputs: list[dict[str, Any]]) -> list[list[str] | None]:
        """The words of each output, from the examples `postprocess` last answered: the workflow writes their
        outputs in order, with an error line (no tags) in place of each row it could not read."""
        words = iter(self._answered_tokens)
        try:
            return [next(words) if "tags" in output or "frames" in output else None for output in outputs]
        except StopIteration:
            raise ValueError("--output_format conll writes the outputs of the last predict run only") from None


def write_conll_outputs(path: str | Path, outputs: list[dict[str, Any]], tokens: list[list[str] | None]) -> None:
    """predict's `--output_format conll`: consecutive frames of the same sentence share one block."""
    blocks: list[list[str]] = []
    current: tuple[list[str], list] | None = None
    for number, (output, words) in enumerate(zip(outputs, tokens), start=1):
        if "frames" in output:
            current = None
            blocks.append(conll_lines(words, [(f["predicate_index"], f["tags"]) for f in output["frames"]], None))
            continue
        if "tags" not in output:  # a row that could not be read: say so where its block would be
            current = None
            blocks.append([f"# row {number}: {output.get('error', 'no output')}"])
            continue
        if current is not None and current[0] == words:
            current[1].append((output["predicate_index"], output["tags"]))
            blocks[-1] = conll_lines(words, current[1], None)
        else:
            current = (words, [(output["predicate_index"], output["tags"])])
            blocks.append(conll_lines(words, current[1], None))
    Path(path).write_text("\n\n".join("\n".join(block) for block in blocks) + "\n", encoding="utf-8")


__all__ = ["SrlTask", "write_conll_outputs"]
