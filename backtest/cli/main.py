"""The ``qcoord`` command line: ``qcoord SUBCOMMAND [options]``.

Every error the packages raise for bad input (``data.DataError``, ``strategies.StrategyError``,
``backtest.BacktestError``, all ``ValueError`` subclasses) becomes one line on stderr and exit code 2,
as do argparse's usage errors. Nothing is written when a run fails.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__

# Subcommands in the order --help lists them; each module lives in backtest/cli/commands/.
COMMANDS = ("backtest", "compare", "sweep", "scan", "game", "data", "calibrate")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's default prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qcoord",
        description="Backtest whether shared entanglement helps two market makers who cannot communicate hedge better.",
    )
    parser.add_argument("--version", action="version", version=f"qcoord {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).add_parser(sub)
    return parser


def _package_errors() -> tuple[type[BaseException], ...]:
    from ...data import DataError
    from ...strategies import StrategyError

    from ..errors import BacktestError

    return (DataError, BacktestError, StrategyError)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    parser = build_parser()
    with warnings.catch_warnings():
        warnings.showwarning = _show
        args = parser.parse_args(argv)
        return _run(args)


def _show(message, category, filename, lineno, file=None, line=None) -> None:
    """A renamed strategy or option as one line on stderr; other warnings as Python shows them."""
    import warnings

    from ..errors import RenamedWarning

    if issubclass(category, RenamedWarning):
        print(f"qcoord: warning: {message}", file=file or sys.stderr)
    else:
        (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args) or 0)
    except _package_errors() as exc:
        print(f"qcoord {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qcoord {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
