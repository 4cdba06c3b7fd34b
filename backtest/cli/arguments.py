"""Command-line options generated from the configuration tree (``config``), and argparse helpers.

Every option of ``qcoord backtest``/``sweep`` (and the source options of ``data``, the link options of
``game``) comes from a field's metadata: the flag, help text with unit and default, choices, and a
converter that reads the value exactly as a config file or a sweep would. Options left out on the command
line stay unset (None), so a ``--config`` file fills them. The configuration tree is imported when a parser
is built, not with this module, so that ``qcoord --help`` and ``--version`` start at once.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from ..errors import RENAMED_FLAGS, BacktestError, renamed
from ..options import Spec, whole

if TYPE_CHECKING:
    from ..config import RunConfig

GROUPS = {
    "source": "data source (default: --synthetic signals)",
    "run": "run",
    "indicators": "indicators",
    "game": "game",
    "noise": "imperfections of the quantum link",
    "supply": "Bell-pair supply (default: a fresh pair every round)",
    "fill": "fill model",
    "link": "the quantum link from physics (docs/link.md), instead of noise and supply",
    "clock": "the run's clock: venues, messages and the decision deadline (docs/time.md)",
}
_DEST = "opt:"  # argparse dests of generated options: "opt:section.name" or "opt:alias"


def _shown(value) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    return str(value)


def help_text(s: Spec) -> str:
    """The help of an option: what it is, its unit, and its default (or what leaving it unset means)."""
    text = s.help + (f" [{s.unit}]" if s.unit else "")
    default = s.default if s.default is not None else s.shown_default
    if default is not None and s.kind is not bool:
        text += f" (default {_shown(default)})"
    return text.replace("%", "%%")


def _converter(s: Spec, flag: str):
    def convert(text: str):
        try:
            return s.parse(text, flag)
        except BacktestError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag}: ")) from None

    convert.__name__ = s.kind.__name__  # argparse names the type in its messages
    return convert


def add_options(
    parser: argparse.ArgumentParser,
    sections=tuple(GROUPS),
    only: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
) -> None:
    """Add the options of ``sections`` to ``parser`` (with ``only``: just these paths, sections or aliases; never
    the paths in ``exclude``, which the command does not take)."""
    from .. import config

    groups: dict[str, argparse._ArgumentGroup] = {}
    chooser = None
    aliases_done: set[str] = set()

    def wanted(s: Spec) -> bool:
        return only is None or s.path in only or s.section in only

    for s in config.all_specs():
        if s.path in exclude:
            continue
        if s.section not in sections or not (wanted(s) or (s.alias and only is not None and s.alias in only)):
            continue
        title = "data source" if s.section == "source" and "source.mode" in exclude else GROUPS[s.section]
        group = groups.get(s.section) or groups.setdefault(s.section, parser.add_argument_group(title))
        if s.chooses or s.choose_flags:
            chooser = chooser or group.add_mutually_exclusive_group()
        if s.flag and wanted(s):
            target = chooser if s.chooses else group
            _add(target, s.flag, s, _DEST + s.path, help_text(s), s.metavar or s.name.upper())
        for flag, kind, text in s.choose_flags:
            assert chooser is not None  # made above for a spec with choose flags
            chooser.add_argument(flag, nargs="+", metavar=s.metavar, dest=f"{_DEST}choose:{kind}:{s.path}", help=text)
        for old, new in RENAMED_FLAGS.items():  # accepted, not listed in --help, and named as renamed when used
            if s.flag == new and wanted(s):
                group.add_argument(
                    old,
                    type=_converter(s, new),
                    choices=s.choices,
                    dest=_DEST + s.path,
                    action=_Renamed,
                    help=argparse.SUPPRESS,
                )
        if s.alias and s.alias not in aliases_done and s.alias_flag != "" and s.alias_help:
            aliases_done.add(s.alias)
            _add(
                group,
                s.alias_flag or "--" + s.alias.replace("_", "-"),
                s,
                _DEST + s.alias,
                help_text(Spec(**{**s.__dict__, "help": s.alias_help})),
                s.metavar or s.alias.upper(),
            )


def add_specs(group, specs) -> None:
    """Add declared options (``options.Spec``) that live outside the run configuration's tree (``qcoord balance``'s
    own), read and checked as ``add_options`` reads the tree's; ``given`` collects them by path."""
    for s in specs:
        _add(
            group,
            s.flag or "--" + s.name.replace("_", "-"),
            s,
            _DEST + s.path,
            help_text(s),
            s.metavar or s.name.upper(),
        )


class _Renamed(argparse.Action):
    """An old flag: stores its value as the new one does, and says the new name."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        renamed("option", option_string, RENAMED_FLAGS[option_string])
        setattr(namespace, self.dest, values)


def _add(group, flag: str, s: Spec, dest: str, text: str, metavar: str) -> None:
    if s.kind is bool:
        group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, dest=dest, help=text)
    elif s.nargs:
        group.add_argument(flag, nargs=s.nargs, metavar=metavar, dest=dest, help=text)
    else:
        group.add_argument(
            flag,
            type=_converter(s, flag),
            choices=s.choices,
            metavar=None if s.choices else metavar,
            dest=dest,
            help=text,
        )


def given(args: argparse.Namespace) -> dict[str, object]:
    """The options given on the command line, by config name (``noise.visibility``, ``loss``...)."""
    out: dict[str, object] = {}
    for dest, value in vars(args).items():
        if not dest.startswith(_DEST) or value is None:
            continue
        name = dest[len(_DEST) :]
        if name.startswith("choose:"):
            _, kind, path = name.split(":")
            out["source.kind"] = kind
            out[path] = [v.upper() for v in value] if kind == "yahoo" else value
        else:
            out[name] = value
    return out


def resolve(args: argparse.Namespace) -> RunConfig:
    """The run configuration: defaults <- --config file <- options given on the command line."""
    from .. import config

    base = config.RunConfig.from_toml(args.config) if getattr(args, "config", None) else config.RunConfig()
    values = given(args)
    cfg = base.with_values(values)
    if cfg.source.kind != "synthetic":  # the engine's own check, before any data is loaded
        from ..overrides import check_real_source

        check_real_source(set(values), cfg.run.strategies)
    return cfg


# -- argparse helpers of the commands' own options -----------------------------------------------------------
def add_file_output(p: argparse.ArgumentParser, ext: str, what: str) -> None:
    """``--out FILE.ext`` (written atomically, checked before any work), ``--force`` and ``--json``."""
    p.add_argument("--out", metavar=f"FILE{ext}", help=what)
    p.add_argument("--force", action="store_true", help="let --out replace an existing file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def check_file_output(path: str | None, ext: str, force: bool) -> None:
    """Refuse an --out of the wrong kind or that cannot be written, before any work."""
    if not path:
        return
    from ..output.atomic import check_writable

    if not path.endswith(ext):
        raise BacktestError(f"--out {path}: expected a {ext} file name")
    check_writable(path, "--out", overwrite=force, force="--force")


def bounded(cast: type, lo: float | None = None, hi: float | None = None, what: str = "", *, open_lo: bool = False):
    """An argparse ``type=`` converter: ``cast(text)``, finite, within [lo, hi] (lo excluded when ``open_lo``);
    ``cast=int`` accepts whole numbers in scientific notation (2e5)."""
    parse = whole if cast is int else cast

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if cast is int else 'a number'}"
            ) from None
        below = lo is not None and (value <= lo if open_lo else value < lo)
        if below or (hi is not None and value > hi) or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} {what if what.startswith('must') else 'is not ' + what}")
        return value

    return convert


def comma_list(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c'] (at least one name)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("give at least one name")
    return items


def numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def add_json_and_progress(group, document: str, unit: str = "") -> None:
    """--json (print ``document`` instead of the summary) and --progress/--no-progress, shared by the commands."""
    group.add_argument("--json", action="store_true", help=f"print {document} instead of the summary")
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"progress bar{unit} on stderr (default: only when stderr is a terminal)",
    )


def matrix(text: str) -> list[list[float]]:
    """A K_A x K_B matrix: four numbers (2x2), rows separated by ';' ("0.1,0.2;0.3,0.4"), a JSON list of rows,
    or the path of a CSV file with one row per x (no header)."""
    import json
    import os

    looks_like_file = text.lower().endswith((".csv", ".txt")) or os.sep in text
    if looks_like_file and not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    try:
        if os.path.isfile(text):
            with open(text, encoding="utf-8") as fh:
                rows = [[float(v) for v in line.split(",")] for line in fh if line.strip()]
        elif text.lstrip().startswith("["):
            rows = [[float(v) for v in row] for row in json.loads(text)]
        elif ";" in text:
            rows = [[float(v) for v in row.split(",")] for row in text.split(";") if row.strip()]
        else:
            flat = [float(v) for v in text.split(",")]
            if len(flat) != 4:
                raise ValueError("a flat list must have four numbers (2x2)")
            rows = [flat[:2], flat[2:]]
    except (ValueError, TypeError, OSError) as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a matrix: give four numbers (2x2), rows separated by ';', a JSON list of rows or a CSV "
            f"file ({exc})"
        ) from None
    if len({len(r) for r in rows}) != 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the rows have different lengths {[len(r) for r in rows]}")
    return rows


probability = bounded(float, 0.0, 1.0, "a probability in [0, 1]")
positive_int = bounded(int, 0, None, "a positive whole number", open_lo=True)
nonnegative_int = bounded(int, 0, None, "a whole number >= 0")


# -- helpers several commands share (no command imports another) ------------------------------------------
def add_run_arguments(p: argparse.ArgumentParser, exclude: tuple[str, ...] = ()) -> None:
    """Every backtest option (shared with ``sweep``), generated from the configuration tree; all unset when
    not given (a config file, then the defaults, fill them)."""
    p.add_argument(
        "--config",
        metavar="FILE.toml",
        help="read options from a config file (a run's config.toml repeats that run); options given here override it",
    )
    add_options(p, exclude=exclude)


def add_scheduler_argument(p: argparse.ArgumentParser) -> None:
    """--scheduler and --workers (``qcoord scan`` and ``qcoord sweep``)."""
    g = p.add_argument_group("execution")
    g.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on this Dask scheduler's workers (default $DASK_SCHEDULER_ADDRESS, else a local cluster)",
    )
    g.add_argument(
        "--workers",
        type=nonnegative_int,
        metavar="N",
        help="worker processes of the local cluster (default: the cores; 0: a plain loop here)",
    )


def parse_param(text: str) -> tuple[str, list]:
    """'visibility=0.9,0.8' -> ('visibility', [0.9, 0.8]), each value read and range-checked as the option
    declares; a BacktestError names what is wrong."""
    from .. import config

    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not values.strip():
        raise BacktestError(f"sweep parameter {text!r}: write PARAM=V1,V2,...")
    sweepable = config.sweepable()
    if name not in sweepable:
        raise BacktestError(f"cannot sweep {name!r}; sweepable: {', '.join(sweepable_names())}")
    spec = config.spec(sweepable[name][0])
    out = []
    for raw in values.split(","):
        value = spec.parse(raw.strip(), f"sweep parameter {name}")
        out.append(value[0] if isinstance(value, list) and len(value) == 1 else value)
    if len(set(map(repr, out))) != len(out):
        raise BacktestError(f"sweep parameter {name}: repeated values in {values}")
    return name, out


def sweepable_names() -> list[str]:
    """The sweepable names people type (section.field paths work too)."""
    from .. import config

    return [k for k in config.sweepable() if "." not in k]


def terminal_width() -> int:
    """Columns to print in: the terminal's width (40 at least), 80 when the output is not a terminal."""
    import shutil
    import sys

    if not sys.stdout.isatty():
        return 80
    return max(shutil.get_terminal_size((80, 24)).columns, 40)
