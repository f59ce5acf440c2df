"""Training, evaluation and prediction of any task, on top of the `transformers` Trainer.

* `arguments`: the option dataclasses and the parser (flags, YAML/JSON, a file plus overriding flags);
* `models`: the model and tokenizer of a run (preset from scratch, checkpoint, Hub model; adapters);
* `trainer`: the Trainer whose evaluation runs through the task (`build_trainer`);
* `precision`: bf16 inference where the hardware has bf16 matrix units;
* `workflow`: `train`, `evaluate` and `predict`, start to finish.

The run folder, checkpoints, `ModelArguments` and the from-scratch builder are shared with pretraining and live
in `transfuse.common`.
"""

from .arguments import (
    DataArguments,
    ModelArguments,
    ParsedArguments,
    RunArguments,
    check_arguments,
    parse_arguments,
)
from .models import LoadedModel, load_for_evaluation, load_for_training
from .precision import bf16_inference_supported, cpu_has_bf16_matmul, use_bf16_inference
from .trainer import Seq2SeqTaskTrainer, TaskTrainer, build_trainer
from .workflow import evaluate, predict, prepare_data, train

__all__ = [
    "DataArguments",
    "LoadedModel",
    "ModelArguments",
    "ParsedArguments",
    "RunArguments",
    "Seq2SeqTaskTrainer",
    "TaskTrainer",
    "bf16_inference_supported",
    "build_trainer",
    "check_arguments",
    "cpu_has_bf16_matmul",
    "evaluate",
    "load_for_evaluation",
    "load_for_training",
    "parse_arguments",
    "predict",
    "prepare_data",
    "train",
    "use_bf16_inference",
]
