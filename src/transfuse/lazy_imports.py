"""Optional heavy dependencies imported on first use, to keep the start-up of model commands short.

bitsandbytes is installed for QLoRA (4/8-bit base models), yet every `transfuse train|evaluate|predict` imported it:
the command parses `TrainingArguments`, whose module imports `transformers.trainer_utils`, which imports peft,
whose `helpers` module imports bitsandbytes. At import its CPU backend wraps its kernels in `torch.compile`
(pulling in `torch._inductor`) and asks the Hub's `kernels` for a CPU kernel: about a second of the 6-7 s it
takes to import what `transfuse predict` needs (benchmarks/README.md, time to quality, session 21).

`defer_optional_imports()` puts a `DeferredModule` in `sys.modules` in the place of each of `DEFERRED` that is not
imported yet: `import bitsandbytes` then succeeds at once (and `importlib.util.find_spec` still finds it), and the
first attribute asked of it runs the real import, e.g. when a 4-bit model is loaded; from then on every name
resolves in the real module. Code that uses the module sees no difference; only the cost moves to the first use.
(The standard library's `importlib.util.LazyLoader` cannot do this: CPython reads `__spec__` of a module on every
`import` statement naming it, and any attribute read makes a LazyLoader module load.) The task commands and
`pretrain` call it before their heavy imports; `TRANSFUSE_LAZY_IMPORTS=0` turns it off.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

DEFERRED = ("bitsandbytes",)
SWITCH = "TRANSFUSE_LAZY_IMPORTS"  # "0" imports everything as the libraries do


class DeferredModule(types.ModuleType):
    """Stands in `sys.modules` for a module not imported yet: it holds the module's name and spec, and the first
    other attribute asked of it imports the real module, in whose place it then forwards every attribute."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._real_module(), attr)

    def _real_module(self) -> types.ModuleType:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
            try:
                return importlib.import_module(name)
            except BaseException:
                sys.modules.setdefault(name, self)  # a failed import fails again, at the next use
                raise
        return importlib.import_module(name)  # already imported: the real module, from sys.modules


def defer_import(name: str) -> bool:
    """Put a `DeferredModule` in the place of `name` if it is installed and not imported yet; returns whether it
    did."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None:
        return False
    placeholder = DeferredModule(name)
    placeholder.__spec__ = spec
    sys.modules[name] = placeholder
    return True


def defer_optional_imports() -> list[str]:
    """`defer_import` each of `DEFERRED` (none with `TRANSFUSE_LAZY_IMPORTS=0`); returns the names deferred."""
    if os.environ.get(SWITCH, "1").strip() == "0":
        return []
    return [name for name in DEFERRED if defer_import(name)]


__all__ = ["DEFERRED", "SWITCH", "DeferredModule", "defer_import", "defer_optional_imports"]
