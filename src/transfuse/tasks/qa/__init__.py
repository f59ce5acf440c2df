"""Question answering: extractive (`qa`, the answer is a span of the context).

* `data.py` -- SQuAD reading (nested JSON v1.1 / v2.0, flat rows in the Hub layout) and the row checks;
* `features.py` -- question + context windows with character offsets and gold token spans;
* `postprocessing.py` -- logits of all windows -> one answer per question (n-best, null answer), numpy only;
* `extractive.py` -- the `qa` task; `pipeline.py` -- `pipeline("question-answering")` over the same code.

`data.py` is shared with the generative task to come (`generative-qa`, issue 16).

The metrics are `transfuse.metrics.qa` (official SQuAD v1.1 / v2.0 EM and F1).
"""

from __future__ import annotations

from .extractive import QuestionAnsweringArguments, QuestionAnsweringTask
from .pipeline import QuestionAnsweringPipeline, question_answering_pipeline

__all__ = [
    "QuestionAnsweringArguments",
    "QuestionAnsweringPipeline",
    "QuestionAnsweringTask",
    "question_answering_pipeline",
]
