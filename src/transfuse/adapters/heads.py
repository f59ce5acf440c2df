"""Which modules of a task model are new: the heads an adapter must train in full and save.

peft guesses task heads by name (`classifier`, `score`), so a head called anything else (transfuse's `dense`
pooler, BART's `classification_head`, a QA `qa_outputs`) is left frozen at its random initialisation and an adapter
reloaded alone gets a different random head. Here the answer comes from the loading report instead:
`from_pretrained(..., output_loading_info=True)` lists the parameters the checkpoint did not hold, and every
module all of whose parameters are new goes into `modules_to_save`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn


def _missing_parameter_names(loading_info: Mapping | Iterable[str]) -> set[str]:
    """Missing keys plus shape-mismatched keys (re-initialised under `ignore_mismatched_sizes=True`)."""
    if isinstance(loading_info, Mapping):
        names = set(loading_info.get("missing_keys", ()))
        mismatched = loading_info.get("mismatched_keys", ())
        names |= {item[0] if isinstance(item, (tuple, list)) else item for item in mismatched}
        return names
    return set(loading_info)


def new_module_names(loading_info_missing_keys: Mapping | Iterable[str], model: nn.Module) -> list[str]:
    """The outermost modules of `model` whose parameters were all newly initialised, e.g. `["classifier", "dense"]`.

    Args:
        loading_info_missing_keys: `loading_info["missing_keys"]` from
            `from_pretrained(..., output_loading_info=True)`, or the whole `loading_info` dict (then shape-mismatched
            keys count as new too).
        model: the model that was loaded.

    A module counts when every parameter under it is missing from the checkpoint (a BERT `pooler` that the
    checkpoint holds is not new). A new parameter owned directly by a partly pretrained module names that module.
    """
    missing = _missing_parameter_names(loading_info_missing_keys)
    parameter_names = {name for name, _ in model.named_parameters(remove_duplicate=False)}
    missing &= parameter_names  # buffers and tied aliases are not trainable heads
    if not missing:
        return []

    def all_new(prefix: str) -> bool:
        under = [p for p in parameter_names if p.startswith(prefix + ".")]
        return bool(under) and all(p in missing for p in under)

    names: set[str] = set()
    for parameter in missing:
        parts = parameter.split(".")[:-1]  # the owning module's path
        chosen = ".".join(parts) if parts else parameter
        for depth in range(1, len(parts) + 1):  # outermost first
            prefix = ".".join(parts[:depth])
            if all_new(prefix):
                chosen = prefix
                break
        names.add(chosen)
    return sorted(names)


def overmatched_modules(model: nn.Module, module_names: Iterable[str]) -> list[str]:
    """Modules peft would also wrap for `module_names`: it matches `modules_to_save` by string suffix, so
    `dense` also catches e.g. BERT's `attention.output.dense`."""
    wanted = set(module_names)
    return sorted(
        key
        for key, _ in model.named_modules()
        if key not in wanted
        and any(key.endswith(name) for name in wanted)
        and not any(key.startswith(name + ".") for name in wanted)
    )


__all__ = ["new_module_names", "overmatched_modules"]
