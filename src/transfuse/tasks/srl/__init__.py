"""Semantic role labelling (issue 18): who did what to whom, for each predicate of a sentence.

* `data.py`: rows and their checks, CoNLL-2005 bracket columns (read, write);
* `alignment.py`: words <-> sub-words and the three predicate markings;
* `decoding.py`: Viterbi under the BIO and unique-core-role rules, argmax, and the output frame;
* `arguments.py`: `SrlArguments`, the task's options and their defaults;
* `inference.py`: the predicate-identification pass and the forward pass outside the Trainer;
* `task.py`: `SrlTask`, the `transfuse train|evaluate|predict srl` task;
* `pipeline.py`: `pipeline("semantic-role-labeling", model=RUN)`, registered on import.
"""

from __future__ import annotations

from .arguments import SrlArguments
from .pipeline import SemanticRoleLabelingPipeline, register_pipeline
from .task import SrlTask

register_pipeline()

__all__ = ["SemanticRoleLabelingPipeline", "SrlArguments", "SrlTask", "register_pipeline"]
