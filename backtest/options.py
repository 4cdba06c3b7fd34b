"""Declaring an option once: dataclass field metadata, read by the command line, TOML, sweeps and overrides.

An option is a field of a frozen dataclass (a section of ``config.RunConfig``, or a value object such as
``strategies.Noise`` or a fill model) whose ``metadata`` is a plain dict, so packages that must not import
``backtest`` can declare options too:

- ``help`` (required): what it is, in the user's words; ``unit``: seconds, currency per share, ...
- ``flag``: the command-line flag (default ``--field-name``; ``""``: reachable only through its ``alias``);
- ``alias``: a short name that sets every field carrying it at once (``loss`` sets ``loss_a`` and ``loss_b``);
- ``choices``, ``nargs`` ("+": several values after the flag; list fields otherwise take ``a,b,c``), ``metavar``;
- ``lo``, ``hi``, ``open_lo``, ``open_hi``, ``finite``: the range of a number, checked wherever the value comes
  from, so an error names the flag, key or sweep parameter (value objects keep their own invariants too);
  ``counts``: how many values a list option takes; ``words``: words a number option also takes;
- ``sweep``: False for numbers that cannot be swept (default True for numbers, False otherwise);
- ``chooses``: giving the flag also sets the source kind (``--csv`` chooses csv); ``choose_flags``: more flags
  that set the field and choose a kind (``--yahoo T...`` sets the tickers and chooses yahoo);
- ``shown_default``: what an unset (None) value means, for help texts (declared where it is decided).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache
from typing import Any

from .errors import BacktestError


@dataclasses.dataclass(frozen=True)
class Spec:
    """One option as the tools see it: where it lives (``section.name``) and how it reads and checks."""

    section: str
    name: str
    kind: type  # float, int, str, bool, or list/tuple for several values
    item: type | None  # the element type of a list/tuple option
    optional: bool
    default: Any
    help: str
    unit: str = ""
    flag: str | None = None
    alias: str | None = None
    alias_help: str | None = None  # the alias's own help (on the first field carrying it)
    alias_flag: str | None = None  # the alias's flag (default --alias; "": the alias is not a flag)
    choices: tuple | None = None
    nargs: str | None = None
    metavar: str | None = None
    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False
    finite: bool = False  # infinities are refused (a number with no range may still not be inf)
    counts: tuple[int, ...] | None = None  # how many values a list option takes
    words: tuple[str, ...] = ()  # words a number option also takes ("quoted" for a half-spread)
    sweep: bool = False
    chooses: str | None = None
    choose_flags: tuple = ()  # more flags setting this field that choose a source kind: (flag, kind, help)
    shown_default: Any = None  # what an unset value means, for help texts

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"

    def parse(self, value, where: str):
        """``value`` (text from the command line or a sweep, or a TOML/Python value) as this option's type,
        range-checked; a BacktestError naming ``where`` otherwise."""
        if value is None:
            if self.optional:
                return None
            raise BacktestError(f"{where}: a value is required")
        if self.kind in (list, tuple):
            items = value.split(",") if isinstance(value, str) else list(value) if _is_seq(value) else [value]
            items = [i.strip() if isinstance(i, str) else i for i in items]
            assert self.item is not None  # a list option's element type (specs_of)
            out = [self._scalar(self.item, i, where) for i in items if i != ""]
            if not out:
                raise BacktestError(f"{where}: give at least one value")
            if self.counts and len(out) not in self.counts:
                raise BacktestError(
                    f"{where} takes {' or '.join(map(str, self.counts))} values "
                    f"({self.metavar or 'values'}), got {len(out)}"
                )
            return out
        return self._scalar(self.kind, value, where)

    def _scalar(self, kind: type, value, where: str):
        if isinstance(value, str) and value.strip() in self.words:
            return value.strip()
        out: bool | int | float | str
        try:
            if kind is bool:
                if isinstance(value, str):
                    if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError
                    value = value.strip().lower() in ("true", "1", "yes")
                elif not isinstance(value, (bool, int)):
                    raise ValueError
                out = bool(value)
            elif kind is int:
                out = whole(value)
            elif kind is float:
                if isinstance(value, bool):
                    raise ValueError
                out = float(value.strip()) if isinstance(value, str) else float(value)
                if math.isnan(out):
                    raise ValueError
            else:
                if not isinstance(value, str):
                    raise ValueError
                out = value
        except (ValueError, TypeError):
            what = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "text")
            if self.words:
                what += " or " + " or ".join(repr(w) for w in self.words)
            raise BacktestError(f"{where}: {value!r} is not {what}") from None
        if self.choices is not None and out not in self.choices:
            raise BacktestError(f"{where}: {out!r} is not one of {', '.join(map(str, self.choices))}")
        if kind in (int, float):
            self._check_range(out, where)
        return out

    def _check_range(self, v, where: str) -> None:
        lo, hi = self.lo, self.hi
        if self.finite and not math.isfinite(v):
            raise BacktestError(f"{where}: {v!r} is not a finite number")
        if lo is None and hi is None:
            return
        below = lo is not None and (v <= lo if self.open_lo else v < lo)
        above = hi is not None and (v >= hi if self.open_hi else v > hi)
        if below or above or (hi is not None and math.isfinite(hi) and not math.isfinite(v)):
            left = "(" if self.open_lo or lo is None or not math.isfinite(lo) else "["
            right = ")" if self.open_hi or hi is None or not math.isfinite(hi) else "]"
            raise BacktestError(f"{where}: {v!r} is out of range {left}{_fmt(lo, '-inf')}, {_fmt(hi, 'inf')}{right}")


def _fmt(v, none: str) -> str:
    return none if v is None else f"{v:g}"


def _is_seq(v) -> bool:
    return isinstance(v, (list, tuple))


def whole(value) -> int:
    """A whole number from any notation people use for one: 200000, 2e5, 200_000, 2.0e5 (ValueError otherwise)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return whole(float(text))  # ValueError for words; 2e5 -> 200000


def option(default=None, *, help: str, **meta) -> Any:
    """A dataclass field declaring an option (see the module docstring for the metadata)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("option defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def _kind(hint) -> tuple[type, type | None, bool]:
    """(kind, item, optional) of a type hint such as ``float | None`` or ``tuple[str, ...]``."""
    args = typing.get_args(hint)
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        seq = [a for a in rest if typing.get_origin(a) in (list, tuple)]
        hint = seq[0] if seq else rest[0]  # float | list[float]: several values allowed
        args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return origin, args[0], optional
    return hint, None, optional


@cache
def specs_of(cls: type, section: str) -> tuple[Spec, ...]:
    """The options a dataclass declares (fields with ``help`` metadata), in field order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata)
        if "help" not in meta:
            continue
        kind, item, optional = _kind(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        numeric = kind in (int, float) or item in (int, float)
        out.append(
            Spec(
                section=section,
                name=f.name,
                kind=kind,
                item=item,
                optional=optional or default is None,
                default=default,
                sweep=meta.pop("sweep", numeric and kind not in (list, tuple)),
                flag=meta.pop("flag", "--" + f.name.replace("_", "-")),
                **meta,
            )
        )
    return tuple(out)


def values_of(obj) -> dict[str, Any]:
    """The option values of a dataclass instance (lists for tuples: TOML and JSON have no tuples)."""
    out = {}
    for f in dataclasses.fields(obj):
        if "help" in f.metadata:
            v = getattr(obj, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def check_ranges(obj, section: str) -> None:
    """Check every declared range of a section's values (the sections that are not value objects)."""
    cls: type = type(obj)
    for s in specs_of(cls, section):
        v = getattr(obj, s.name)
        if v is not None:
            s.parse(v, f"[{section}] {s.name}")


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isinf(value):
            return '"inf"' if value > 0 else '"-inf"'
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise BacktestError(f"cannot write {value!r} to TOML")
