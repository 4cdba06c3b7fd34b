"""Lazy public names for qcoord's packages, so that ``import qcoord.backtest`` costs nothing until a name is used.

A command that needs no Qiskit, statsmodels or matplotlib (``qcoord --version``, ``--help``, ``qcoord data``)
then never imports them: each public name is imported from its module on first use (PEP 562).
"""

from __future__ import annotations

import importlib


def exports(package: str, names: dict[str, tuple[str, ...]]):
    """``(__getattr__, __dir__, __all__)`` for ``package`` whose public names live in the given submodules
    (``{"submodule": ("Name", ...)}``). Unknown attributes fall back to a submodule of that name."""
    where = {name: module for module, group in names.items() for name in group}
    # a submodule bound on import would hide a public name spelled like it (package.x the module, not x)
    assert not set(where) & {m.split(".")[0] for m in names}, "a public name is spelled like its module"
    everything = sorted(where)

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            if name.startswith("__"):
                raise AttributeError(name)
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return everything

    return __getattr__, __dir__, everything
