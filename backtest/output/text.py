"""Small helpers every sentence and table of a run's text shares: numbers in words, interval judgements, paragraphs
wrapped to a width, DataFrames split to fit one."""

from __future__ import annotations

import math
import re
import textwrap
from typing import TypeGuard


def num(v) -> float:
    return float(v) if v is not None else math.inf


def ci_judgement(ci) -> str:
    """What a variance ratio's 95% interval says: a significant reduction, increase, or neither."""
    if ci and ci[1] < 1.0:
        return "a significant reduction"
    if ci and ci[0] > 1.0:
        return "a significant increase"
    return "not significantly different"


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def money(v) -> str:
    """A money figure in a sentence: three significant digits, or "undefined"."""
    return "undefined" if v is None else f"{v:.3g}"


def finite(v) -> TypeGuard[float]:
    return v is not None and math.isfinite(v)


def percent(share: float) -> str:
    return f"{share * 100:.2g}%"


def wrapper(width: int):
    """A paragraph as lines of at most ``width`` columns, continuation lines indented by two."""

    def wrap(text: str, narrower: int = 0) -> list[str]:  # narrower: columns the caller adds before each line
        return textwrap.wrap(
            text, width=width - narrower, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
        ) or [""]

    return wrap


def fit_table(table, width: int, fmt) -> list[str]:
    """A DataFrame as text lines no wider than ``width``: when all its columns do not fit, it is split into
    consecutive groups of columns, each printed with the row labels."""
    columns = list(table.columns)
    out, start = [], 0
    while start < len(columns):
        stop = len(columns)
        while stop > start + 1:
            text = table[columns[start:stop]].to_string(float_format=fmt, na_rep="—")
            if max(map(len, text.splitlines())) <= width:
                break
            stop -= 1
        out += table[columns[start:stop]].to_string(float_format=fmt, na_rep="—").splitlines()
        start = stop
    return out


def agreement(share: float, digits: int = 1) -> str:
    """How often the two servers' indicator bits agree, in words."""
    return f"x = y in {share:.{digits}%} of training rounds"


def duration(seconds: float) -> str:
    """A time in the unit a person would say it in: 1.09 s, 0.274 ms, 3 us, 1 day, 17.3 years (ASCII: the summary
    is plain text)."""
    for unit, size in (
        ("years", 365.25 * 86400.0),
        ("days", 86400.0),
        ("h", 3600.0),
        ("min", 60.0),
        ("s", 1.0),
        ("ms", 1e-3),
    ):
        if seconds >= size * (1.0 - 1e-9):
            value = seconds / size
            name = unit[:-1] if unit in ("years", "days") and abs(value - 1.0) < 5e-3 else unit
            return f"{value:.3g} {name}"
    return f"{seconds * 1e6:.3g} us"


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "cf.")


def sentences(text: str) -> list[str]:
    """A paragraph's sentences (split after a full stop before a capital, never after an abbreviation)."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text.strip()):
        if out and out[-1].endswith(_ABBREVIATIONS):
            out[-1] += " " + part
        else:
            out.append(part)
    return out
