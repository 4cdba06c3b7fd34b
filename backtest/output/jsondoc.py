"""Every JSON document qcoord writes or prints, as strict JSON (RFC 8259: no NaN, no Infinity), which Python's
``json.loads`` with ``parse_constant`` refusing and JavaScript's ``JSON.parse`` both read.

One rule for the numbers JSON cannot hold: a result that is not finite is ``null``, and where the document has an
``undefined`` map (metrics.json's strategies) the map says why; an option of the configuration that is infinite (a
memory that never decays, ``t1``) is the string ``"inf"``, as config.toml writes it and as every option reads it
back (``options``: metrics.json ``config``, the ``config`` of sweep.json and scan.json, the ``*_options.json``
files). numpy scalars and arrays become numbers and lists; anything else JSON has no type for (a path, a timestamp)
its text.
"""

from __future__ import annotations

import json
import math


def plain(value):
    """``value`` with JSON's types only: a number that is not finite is None, numpy is Python."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalars and arrays
        return plain(value.tolist())
    return str(value)


def options(value):
    """A configuration's values for JSON: an infinite option is the string "inf" ("-inf"), as in config.toml."""
    if isinstance(value, dict):
        return {k: options(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [options(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def dumps(doc, indent: int | None = 2) -> str:
    """``doc`` as strict JSON text (``allow_nan=False``: nothing non-standard slips through)."""
    return json.dumps(plain(doc), indent=indent, allow_nan=False)
