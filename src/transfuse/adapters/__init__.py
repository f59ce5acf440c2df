"""The adapter suite: every peft method on transfuse and Hub models, QLoRA, heads that survive, merging.

Laid out like peft's tuners: `arguments.py` (flags), `methods.py` (peft configs and default target modules per
architecture), `quantization.py` (bitsandbytes), `heads.py` (new modules from the loading report),
`apply.py` (wrap a model), `loading.py` (run folders).
"""

from .apply import apply_adapter, is_quantized
from .arguments import ADAPTERS, AdapterArguments
from .heads import new_module_names
from .loading import is_adapter_folder, load_for_inference, save_for_inference
from .methods import build_peft_config, default_target_modules, infer_task_type
from .quantization import bnb_config, quantization_kwargs

__all__ = [
    "ADAPTERS",
    "AdapterArguments",
    "apply_adapter",
    "bnb_config",
    "build_peft_config",
    "default_target_modules",
    "infer_task_type",
    "is_adapter_folder",
    "is_quantized",
    "load_for_inference",
    "new_module_names",
    "quantization_kwargs",
    "save_for_inference",
]
