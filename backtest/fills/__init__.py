"""Stage 3, the fills: how a quoting order becomes P&L. Small swappable objects behind the ``FillModel`` interface.

``base`` holds the interface and the registry; each model is a module of its own (``bias``, the default, and
``queue``) with its compiled loops, found and registered when this package is imported, so a new model is one file
here plus its tests (CONTRIBUTING.md). ``calibrate`` estimates the queue model's fill probabilities from minute quote
bars (``qcoord calibrate``).
"""

import importlib
import pkgutil

from .base import FILL_MODELS, BookFills, FillModel, Fills, Market, make_fill

# every module here but the interface and the calibration defines models: import each so that it registers
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "calibrate"):
        importlib.import_module(f"{__name__}.{_module.name}")

from .bias import BiasFill  # noqa: E402  (the two built-in models, by name)
from .queue import QueueFill  # noqa: E402

__all__ = ["FILL_MODELS", "BiasFill", "BookFills", "FillModel", "Fills", "Market", "QueueFill", "make_fill"]
