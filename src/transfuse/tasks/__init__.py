"""The task registry: `transfuse train <task>` looks the task up here.

`TASKS` maps a task name to the `module:class` of its `Task` subclass. Modules are imported only when their
task is used, so a new task is one line here plus its own module (see `base.py` for the interface).
"""

from __future__ import annotations

import importlib

from .base import NOT_QUALITY, Split, Task

TASKS: dict[str, str] = {
    "classification": "transfuse.tasks.classification:ClassificationTask",
    "generative-qa": "transfuse.tasks.qa.generative:GenerativeQuestionAnsweringTask",
    "qa": "transfuse.tasks.qa.extractive:QuestionAnsweringTask",
    "srl": "transfuse.tasks.srl:SrlTask",
    "translation": "transfuse.tasks.translation:TranslationTask",
}


def get_task_class(name: str) -> type[Task]:
    """The `Task` subclass registered as `name`; the error lists the registered names."""
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; choose one of: {', '.join(sorted(TASKS))}.")
    module_name, class_name = TASKS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


__all__ = ["NOT_QUALITY", "TASKS", "Split", "Task", "get_task_class"]
