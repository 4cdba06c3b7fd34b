"""Compiled kernels, with numba imported when a kernel first runs rather than when its module is imported.

``@njit(cache=True, ...)`` here is numba's ``njit`` deferred: the decorated function becomes a ``Kernel`` that builds
numba's dispatcher on its first call (or first attribute look-up). Importing the engine's modules then costs no
numba import (about 0.2 s), so a command's ``--help`` built from the configuration tree starts at once, and a kernel
a run never calls is never set up.

A kernel that calls another kernel is typed by numba against the callee's dispatcher, so when a kernel is built,
every kernel its code names (directly, or as an attribute of a module it names) is built first and put in place of
the ``Kernel`` in the caller's globals.

numba caches compiled kernels on disk (``cache=True``); on a fresh install nothing is cached and the first run
compiles every kernel it uses (about 30 s on two cores). ``on_compile`` (set by the command line) is called once per
process, before the first kernel that has no valid cached version is compiled, so the wait is announced.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable

on_compile: Callable[[], None] | None = None  # called once, before the first kernel with no cached version compiles
_announced = False
_lock = threading.RLock()


class compiling_announced:
    """``with compiling_announced(callback):`` calls ``callback()`` once, before the first kernel with no valid
    cached version is compiled in the block (the command line prints that the kernels are compiling)."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback, self.saved = callback, None

    def __enter__(self):
        global on_compile
        self.saved, on_compile = on_compile, self.callback
        return self

    def __exit__(self, *exc) -> None:
        global on_compile
        on_compile = self.saved


def njit(*args, **options):
    """numba.njit, deferred: ``@njit(cache=True, nogil=True)`` or ``@njit``."""
    if args and callable(args[0]) and not options:
        return Kernel(args[0], {})
    return lambda func: Kernel(func, options)


def cached(dispatcher) -> bool | None:
    """Whether numba's on-disk cache holds a compiled version of ``dispatcher`` for its current source (None when
    that cannot be told: no cache, or numba's cache layout changed)."""
    try:
        cache = dispatcher._cache
        return bool(cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 - numba's private cache API; the answer is only used to announce a wait
        return None


class Kernel:
    """A function compiled by numba on first use; calls and attributes go to numba's dispatcher."""

    def __init__(self, func, options: dict) -> None:
        self.py_func, self._options, self._dispatcher = func, options, None
        self.__name__, self.__qualname__ = func.__name__, func.__qualname__
        self.__doc__, self.__module__, self.__wrapped__ = func.__doc__, func.__module__, func

    def dispatcher(self):
        """numba's dispatcher of this kernel (built on first use, with the kernels it calls)."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    self._build()
        return self._dispatcher

    def _build(self) -> None:
        import numba

        glob = self.py_func.__globals__
        for name in _names(self.py_func.__code__):
            value = glob.get(name)
            if isinstance(value, Kernel):
                glob[name] = value.dispatcher()
            elif isinstance(value, types.ModuleType):
                for attr in _names(self.py_func.__code__):
                    inner = getattr(value, attr, None)
                    if isinstance(inner, Kernel):
                        setattr(value, attr, inner.dispatcher())
        dispatcher = numba.njit(**self._options)(self.py_func)
        self._dispatcher = dispatcher
        if glob.get(self.__name__) is self:  # later calls from its own module skip this object
            glob[self.__name__] = dispatcher

    def __call__(self, *args, **kwargs):
        dispatcher = self.dispatcher()
        # a kernel called from Python compiles on this call unless cached (one inlined into others never is)
        if not _announced and self._options.get("cache") and not dispatcher.signatures and cached(dispatcher) is False:
            _announce()
        return dispatcher(*args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("py_func", "_options", "_dispatcher"):
            raise AttributeError(name)
        return getattr(self.dispatcher(), name)

    def __reduce__(self):  # pickled by reference to its module, as a plain function is
        return (_kernel_named, (self.__module__, self.__qualname__))

    def __repr__(self) -> str:
        return f"<kernel {self.__module__}.{self.__qualname__}>"


def _kernel_named(module: str, qualname: str):
    import importlib

    value = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def _names(code) -> set[str]:
    """Every global or attribute name a function's code (and the code nested in it) refers to."""
    out = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out |= _names(const)
    return out


def _announce() -> None:
    global _announced
    if _announced:
        return
    _announced = True
    if on_compile is not None:
        on_compile()
