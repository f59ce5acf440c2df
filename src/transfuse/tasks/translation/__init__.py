"""Machine translation (`transfuse train|evaluate|predict translation`): one small module per concern.

* `arguments.py`: the task's options; `data.py`: every parallel-data layout, read into a column per language;
* `task.py`: the `Task` (features, decoding settings, outputs, metrics);
* `generation.py`: decoding settings shared by the Trainer path and the pipeline;
* `vocabularies.py`: one tokenizer for both languages or one per side (`--separate_vocabularies`), and the one
  way generated ids are read back (with the target tokenizer);
* `averaging.py`: `--average_checkpoints`; `attention.py`: `--attention_plot`;
* `pipeline.py`: `transformers.pipeline("translation", model=RUN)` (registered on import).
"""

from __future__ import annotations

from . import pipeline  # noqa: F401  (registers the `translation` pipeline)
from .arguments import TranslationArguments
from .task import TranslationTask

__all__ = ["TranslationArguments", "TranslationTask"]
