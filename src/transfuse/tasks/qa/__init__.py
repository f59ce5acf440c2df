"""Question answering: extractive (`qa`, the answer is a span of the context) and generative (`generative-qa`).

* `data.py` -- SQuAD reading (nested JSON v1.1 / v2.0, flat rows in the Hub layout) and the row checks;
  `task_data.py` -- the data hooks both tasks share;
* `features.py` -- question + context windows with character offsets and gold token spans;
* `postprocessing.py` -- logits of all windows -> one answer per question (n-best, null answer), numpy only;
* `extractive.py` -- the `qa` task; `pipeline.py` -- `pipeline("question-answering")` over the same code;
* `generative.py` -- the `generative-qa` task (encoder-decoder or decoder); `generative_inputs.py` -- its input
  formats, context truncation and answer-only labels; `generative_models.py` -- one Auto class for both
  architectures and the `EncoderDecoderModel` warm start; `generative_pipeline.py` --
  `pipeline("text2text-generation")` (registered on import).

The metrics of both are `transfuse.metrics.qa` (official SQuAD v1.1 / v2.0 EM and F1).
"""

from __future__ import annotations

from . import generative_pipeline  # noqa: F401  (registers the `text2text-generation` pipeline)
from .extractive import QuestionAnsweringArguments, QuestionAnsweringTask
from .generative_pipeline import Text2TextGenerationPipeline
from .pipeline import QuestionAnsweringPipeline, question_answering_pipeline

__all__ = [
    "QuestionAnsweringArguments",
    "QuestionAnsweringPipeline",
    "QuestionAnsweringTask",
    "Text2TextGenerationPipeline",
    "question_answering_pipeline",
]
