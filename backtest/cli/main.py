"""The ``qcoord`` command line: ``qcoord SUBCOMMAND [options]``.

Every error the packages raise for bad input (``data.DataError``, ``strategies.StrategyError``,
``backtest.BacktestError``, all ``ValueError`` subclasses) becomes one line on stderr and exit code 2,
as do argparse's usage errors. Nothing is written when a run fails.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__

# Subcommands in the order --help lists them; each module lives in backtest/cli/commands/.
COMMANDS = ("backtest", "compare", "sweep", "scan", "game", "balance", "data", "calibrate")


class _Help(argparse.HelpFormatter):
    """Help that wraps between words and after the commas of a list, never inside a word ("classic al_levels")."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        lines, line = [], ""
        for word in " ".join(text.split()).split(" "):
            for i, piece in enumerate(re.findall(r"[^,]+,?|,", word)):
                sep = " " if i == 0 and line else ""
                if line and len(line) + len(sep) + len(piece) > width:
                    lines.append(line)
                    line = piece
                else:
                    line += sep + piece
        return lines + [line] if line else lines


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse's default prints usage too)
        if message.endswith("expected one argument") and message.startswith("argument --"):
            flag = message.split()[1].split("/")[0].rstrip(":")
            message += f" (a value that starts with '-' needs '=': {flag}=-0.1,...)"
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``command`` only that subcommand's options: the others keep their one-line
    ``HELP`` (the options of ``backtest`` come from the configuration tree, which imports the engine's modules,
    so ``qcoord --help`` and ``--version`` do not build them)."""
    parser = _Parser(
        prog="qcoord",
        description="Backtest whether shared entanglement helps two market makers who cannot communicate hedge better.",
    )
    parser.add_argument("--version", action="version", version=f"qcoord {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        if command is None or name == command:
            module.add_parser(sub)
        else:
            sub.add_parser(name, help=module.HELP)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option), if any."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def _package_errors() -> tuple[type[BaseException], ...]:
    from ...data import DataError
    from ...strategies import StrategyError

    from ..errors import BacktestError

    return (DataError, BacktestError, StrategyError)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    try:  # Ctrl-C while the libraries import (they load with the command's options) is an interrupt, not a traceback
        parser = build_parser(command or "")
        with warnings.catch_warnings():
            warnings.showwarning = _show
            args = parser.parse_args(argv)
            return _run(args)
    except KeyboardInterrupt:
        print(f"qcoord{' ' + command if command else ''}: interrupted", file=sys.stderr)
        return 130


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    """qcoord's own warnings (a renamed strategy or option, a data problem) as one line on stderr; other warnings
    as Python shows them."""
    import warnings

    from ..errors import RenamedWarning

    from ...data import DataWarning

    if issubclass(category, (RenamedWarning, DataWarning)):  # ours: one line, no source line
        print(f"qcoord: warning: {message}", file=file or sys.stderr)
    else:
        (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))


COMPILING = "compiling kernels, once: about 30 s"  # numba's first compile, before its on-disk cache is written


def _compiling() -> None:
    print(f"qcoord: {COMPILING}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    from ..._jit import compiling_announced

    try:
        with compiling_announced(_compiling):
            return int(args.run(args) or 0)
    except _package_errors() as exc:
        print(f"qcoord {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `qcoord backtest | head`: the reader has gone; the run's files are written
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    except KeyboardInterrupt as exc:  # a batch that kept its finished jobs says how many (errors.Interrupted)
        print(f"qcoord {args.command}: interrupted" + (f"; {exc}" if str(exc) else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
