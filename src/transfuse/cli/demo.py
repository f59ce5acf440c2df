"""`transfuse demo`: the whole suite in one command, offline, in a minute or two on a laptop CPU.

Trains a byte-level BPE tokenizer and a `small` transfuse encoder from scratch on the sentiment set that ships
inside the package, evaluates it, prints the metrics, classifies a few new sentences through
`transformers.pipeline("text-classification")`, and leaves a complete run folder (model, tokenizer,
metrics.json, model card, loss curve). It is exactly `transfuse train classification` with the flags it prints
first.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from pathlib import Path

from ..data import demo_data_files
from . import train

SENTENCES = [  # written by hand, not generated: see tests/cli/test_demo_model.py for 20 more
    "Great!",
    "This is the best phone I have ever owned.",
    "The delivery was late and the box was crushed.",
    "Not worth the money.",
]


def demo_train_argv(output_dir: str) -> list[str]:
    files = demo_data_files()
    return [
        "classification",
        "--train_file",
        files["train"],
        "--validation_file",
        files["validation"],
        "--preset",
        "small",
        "--vocab_size",
        "1000",
        "--max_seq_length",
        "64",
        "--num_train_epochs",
        "1",
        "--per_device_train_batch_size",
        "32",
        "--learning_rate",
        "1e-3",
        "--warmup_steps",
        "10",
        "--eval_strategy",
        "epoch",
        "--save_strategy",
        "no",
        "--logging_steps",
        "5",
        "--seed",
        "42",
        "--output_dir",
        output_dir,
        "--overwrite_output_dir",
    ]


DEMO_MARKER = ".transfuse-demo"  # marks a folder as the demo's own run, which the next demo replaces


def clear_previous_demo(output_dir: str | Path) -> bool:
    """Delete `output_dir` when it holds an earlier demo run (nothing there is worth keeping); any other folder
    is left to `--overwrite_output_dir`, which moves it aside. Returns whether a demo run was deleted."""
    folder = Path(output_dir)
    if not (folder / DEMO_MARKER).is_file():
        return False
    shutil.rmtree(folder)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="transfuse demo", description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default="runs/demo", help="Where the run folder goes (default runs/demo).")
    options = parser.parse_args(argv)
    for folder in (Path(options.output_dir), *Path(options.output_dir).parents):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(
                f"--output_dir {options.output_dir}: {folder} is a file, not a folder; choose another --output_dir."
            )
    clear_previous_demo(options.output_dir)  # a second demo replaces the first instead of moving it aside
    train_argv = demo_train_argv(options.output_dir)
    print("transfuse demo runs: transfuse train " + shlex.join(train_argv), flush=True)
    code = train.main(train_argv)
    if code:
        return code
    (Path(options.output_dir) / DEMO_MARKER).write_text("written by `transfuse demo`; the next demo replaces it\n")

    from transformers import pipeline

    import transfuse  # noqa: F401  (registers the transfuse model type with the Auto classes)

    classifier = pipeline("text-classification", model=options.output_dir, device="cpu")
    print("\nPredictions of the trained model (transformers.pipeline):")
    for sentence, prediction in zip(SENTENCES, classifier(SENTENCES)):
        print(f"  {prediction['label']:>8} ({prediction['score']:.2f})  {sentence}")
    contents = "model, tokenizer, metrics.json, README.md model card, loss_curve.png"
    print(f"\nRun folder: {options.output_dir} ({contents})")
    return 0
