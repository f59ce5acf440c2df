"""The adapter suite: every peft method on transfuse and Hub models, QLoRA, heads that survive, merging,
one base with many task adapters.

One module per step of an adapter's life, not per method (every method's layers, saving and merging stay in
peft): `arguments.py` (flags), `methods.py` (`AdapterArguments` -> the peft config of each method, default
target modules per architecture, refusals), `quantization.py` (bitsandbytes), `heads.py` (new modules from the
loading report), `apply.py` (wrap a model), `loading.py` (run folders), `merge.py` (export), `multitask.py` (one
base, many tasks), `check.py` + `callbacks.py` (training-time wiring).
"""

from .apply import apply_adapter, is_quantized
from .arguments import ADAPTERS, AdapterArguments
from .callbacks import AdaLoraCallback, AdapterCheckCallback, adapter_callbacks, check_training_arguments
from .check import AdapterCheckReport, check_adapter, count_parameters
from .heads import new_module_names
from .loading import is_adapter_folder, load_for_inference, save_for_inference
from .merge import MergeReport, merge_adapter, merge_run
from .methods import build_peft_config, check_task_support, default_target_modules, infer_task_type
from .multitask import MultiTaskModel
from .quantization import bnb_config, quantization_kwargs

__all__ = [
    "ADAPTERS",
    "AdaLoraCallback",
    "AdapterArguments",
    "AdapterCheckCallback",
    "AdapterCheckReport",
    "MergeReport",
    "MultiTaskModel",
    "adapter_callbacks",
    "apply_adapter",
    "bnb_config",
    "build_peft_config",
    "check_adapter",
    "check_task_support",
    "check_training_arguments",
    "count_parameters",
    "default_target_modules",
    "infer_task_type",
    "is_adapter_folder",
    "is_quantized",
    "load_for_inference",
    "merge_adapter",
    "merge_run",
    "new_module_names",
    "quantization_kwargs",
    "save_for_inference",
]
