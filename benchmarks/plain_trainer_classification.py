"""Reference for `bench_classification.py`: text classification with nothing but a plain Hugging Face
`Trainer`.

Written independently of transfuse's task / data / training code (only the model under test comes from
transfuse when `--model scratch`), in the shape of the transformers `run_glue.py` example cut to the bone:
load JSON Lines, tokenize, (optionally) wrap in a peft LoRA, train with `Trainer`, score the validation split
in fp32. The benchmark feeds it the same model, data and hyper-parameters as `transfuse train classification`,
so the two accuracies tell whether our pipeline loses anything.

    python benchmarks/plain_trainer_classification.py --model PATH_OR_scratch --train_file F --validation_file
    F \
        --output_json result.json [--lora_r 8 ...] [--max_steps N | --num_train_epochs E] ...
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from datasets import load_dataset
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    set_seed,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="Model folder / Hub id, or `scratch` for a small transfuse.")
    parser.add_argument("--train_file", required=True)
    parser.add_argument("--validation_file", required=True)
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--text_pair_column", default=None)
    parser.add_argument("--label_column", default="label")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--max_train_samples", type=int, default=None)
    parser.add_argument("--max_eval_samples", type=int, default=None)
    parser.add_argument("--vocab_size", type=int, default=8000, help="scratch: tokenizer vocabulary")
    parser.add_argument("--lora_r", type=int, default=0, help="0: full fine-tuning")
    parser.add_argument("--lora_alpha", type=float, default=16)
    parser.add_argument("--lora_dropout", type=float, default=0.05)
    parser.add_argument("--target_modules", nargs="+", default=None)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--weight_decay", type=float, default=0.0)
    parser.add_argument("--warmup_steps", type=int, default=0)
    parser.add_argument("--max_steps", type=int, default=-1)
    parser.add_argument("--num_train_epochs", type=float, default=3.0)
    parser.add_argument("--per_device_train_batch_size", type=int, default=32)
    parser.add_argument("--per_device_eval_batch_size", type=int, default=128)
    parser.add_argument("--train_sampling_strategy", default="random")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--pad_to_multiple_of", type=int, default=8, help="Batch padding (8 = the batches transfuse builds)."
    )
    parser.add_argument(
        "--eval_steps", type=int, default=0, help="Also score the validation split every N steps (0: only at the end)."
    )
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--output_json", required=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    files = {"train": args.train_file, "validation": args.validation_file}
    raw = load_dataset("json", data_files=files)
    if args.max_train_samples:
        raw["train"] = raw["train"].select(range(min(args.max_train_samples, len(raw["train"]))))
    if args.max_eval_samples:
        raw["validation"] = raw["validation"].select(range(min(args.max_eval_samples, len(raw["validation"]))))
    labels = sorted(
        {str(v) for v in raw["train"][args.label_column]},
        key=lambda v: (not v.lstrip("-").isdigit(), int(v) if v.lstrip("-").isdigit() else 0, v),
    )
    label_id = {label: i for i, label in enumerate(labels)}
    text_columns = [args.text_column] + ([args.text_pair_column] if args.text_pair_column else [])

    set_seed(args.seed)
    if args.model == "scratch":
        import transfuse
        from transfuse.tokenization import train_tokenizer

        texts = [text for column in text_columns for text in raw["train"][column]]
        tokenizer = train_tokenizer(texts, kind="bpe", vocab_size=args.vocab_size, model_max_length=512)
        config = transfuse.get_preset(
            "small",
            "encoder",
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            num_labels=len(labels),
        )
        model = AutoModelForSequenceClassification.from_config(config)
    else:
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=len(labels))
    if args.lora_r:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                task_type="SEQ_CLS",
                r=args.lora_r,
                lora_alpha=args.lora_alpha,
                lora_dropout=args.lora_dropout,
                target_modules=args.target_modules,
                modules_to_save=["classifier"],
            ),
        )

    def tokenize(batch):
        pair = batch[args.text_pair_column] if args.text_pair_column else None
        encoded = tokenizer(batch[args.text_column], pair, truncation=True, max_length=args.max_seq_length)
        encoded["labels"] = [label_id[str(v)] for v in batch[args.label_column]]
        return encoded

    features = raw.map(tokenize, batched=True, remove_columns=raw["train"].column_names)
    training_args = TrainingArguments(
        output_dir=args.output_dir,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps,
        max_steps=args.max_steps,
        num_train_epochs=args.num_train_epochs,
        per_device_train_batch_size=args.per_device_train_batch_size,
        per_device_eval_batch_size=args.per_device_eval_batch_size,
        train_sampling_strategy=args.train_sampling_strategy,
        seed=args.seed,
        logging_steps=50,
        eval_strategy="steps" if args.eval_steps else "no",
        eval_steps=args.eval_steps or None,
        save_strategy="no",
        report_to="none",
        dataloader_pin_memory=False,
    )

    def accuracy_of(prediction) -> dict[str, float]:
        return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}

    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=features["train"],
        eval_dataset=features["validation"] if args.eval_steps else None,
        compute_metrics=accuracy_of if args.eval_steps else None,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=args.pad_to_multiple_of),
        processing_class=tokenizer,
    )
    start = time.perf_counter()
    train_metrics = trainer.train().metrics
    train_seconds = time.perf_counter() - start
    prediction = trainer.predict(features["validation"])
    accuracy = float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())
    result = {
        "accuracy": accuracy,
        "train_seconds": train_seconds,
        "train_loss": train_metrics["train_loss"],
        "eval_seconds": prediction.metrics["test_runtime"],
        "n_validation": len(features["validation"]),
    }
    with open(args.output_json, "w") as handle:
        json.dump(result, handle, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
