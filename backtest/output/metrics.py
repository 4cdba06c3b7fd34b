"""The metric registry: every per-strategy metric and flag a run reports, declared once.

A ``Metric`` has its name (the metrics.json key and the ``Result.metrics`` column), a label with its unit for tables,
a format, the terminal summary's short header where the summary shows it, what it means, and why it can be
undefined. A ``Flag`` says why a value should not be read as a plain number. The run document carries both
(metrics.json ``metric_info`` and ``flag_info``), so the summary here and the HTML report in ``qcoord.reports``
(which imports nothing of the engine) read the same labels, formats and flag texts. The order is the reading order:
what the hedge changes first, then the fill model's money, then the game's counts, then risk and the link.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SHARE, MONEY, MONEY2, RATIO, COUNT = ".1%", ",.4f", ",.2f", ",.3f", ",.0f"  # format specs (``format(v, spec)``)


@dataclass(frozen=True)
class Metric:
    """One reported metric: ``name`` (metrics.json key), ``label`` (table header, with its unit), ``format`` (a
    format spec for one value), ``description``, ``undefined`` (why it can be missing), ``short`` (the terminal
    summary's column header; None: not in the summary), ``table`` (whether the report's metric table shows it)."""

    name: str
    label: str
    format: str
    description: str
    undefined: str = "undefined"
    short: str | None = None
    table: bool = True

    def fmt(self, value) -> str:
        return format(value, self.format)


@dataclass(frozen=True)
class Flag:
    """Why a strategy's value should not be read as a plain number: ``key`` (metrics.json ``flags`` key), ``text``
    (one line, the summary's and the report's)."""

    key: str
    text: str


METRICS: tuple[Metric, ...] = (
    Metric(
        "pnl_directional",
        "directional P&L (currency/round)",
        MONEY,
        "mean P&L a round of the part the quoting order decides (the hedge changes it)",
        short="dir_pnl",
    ),
    Metric(
        "variance_share",
        "variance / coins'",
        SHARE,
        "book variance as a share of independent coins' (1: no hedge)",
        "independent coins have zero book variance",
        short="var_share",
    ),
    Metric(
        "sharpe_directional",
        "Sharpe of the directional part",
        MONEY2,
        "annualised Sharpe ratio of the directional P&L alone",
        "the directional P&L has zero variance",
        short="sharpe_dir",
    ),
    Metric(
        "pnl_spread_income",
        "spread income (currency/round)",
        MONEY,
        "mean spread income a round, earned at the data's own quotes (0 where the data has none)",
        short="income",
    ),
    Metric(
        "pnl_costs",
        "costs (currency/round)",
        MONEY,
        "mean costs a round in the P&L: re-queueing (where the income is earned), crossing, fees, inventory cuts",
        short="costs",
    ),
    Metric(
        "sharpe",
        "Sharpe (annual)",
        MONEY2,
        "annualised Sharpe ratio of the book P&L over the book size (assumed income never in it)",
        "the book P&L has zero variance",
        short="sharpe",
    ),
    Metric(
        "pnl_assumed_income",
        "assumed spread income (currency/round)",
        MONEY,
        "mean spread income a round the fill model assumes where the data has no quotes, net of what re-queueing, "
        "cuts and unwinds pay at the assumed half-spread: never in the P&L, variance or a Sharpe ratio",
        short="assumed",
    ),
    Metric(
        "pnl_var",
        "book variance (currency²/round)",
        MONEY2,
        "variance of the book P&L a round, costs included",
        "fewer than two rounds",
    ),
    Metric("pnl_mean", "mean P&L (currency/round)", MONEY, "mean book P&L a round"),
    Metric(
        "pnl_std",
        "P&L std (currency/round)",
        RATIO,
        "standard deviation of the book P&L a round",
        "fewer than two rounds",
    ),
    Metric("win_rate", "rounds won", SHARE, "share of rounds the game was won", short="win"),
    Metric("win_rate_ci95", "rounds won, 95% CI", SHARE, "Wilson 95% interval of the win rate", table=False),
    Metric(
        "hedged_rate",
        "hedged rounds",
        SHARE,
        "share of rounds (both stocks moved) in which the book's two positions offset",
        "no round in which both stocks moved",
        short="hedged",
    ),
    Metric("hedged_rate_ci95", "hedged rounds, 95% CI", SHARE, "Wilson 95% interval of the hedged rate", table=False),
    Metric(
        "turnover",
        "order changes",
        SHARE,
        "share of rounds in which a server changes its quoting order",
        short="turnover",
        table=False,
    ),
    Metric("utility", "mean utility (game units)", MONEY, "mean utility a round in the game's own units"),
    Metric(
        "sortino",
        "Sortino (annual)",
        MONEY2,
        "annualised Sortino ratio of the book P&L",
        "no round fell below the risk-free rate",
    ),
    Metric("max_drawdown", "max drawdown (currency)", MONEY2, "largest fall of cumulative book P&L from a peak"),
    Metric(
        "max_drawdown_share",
        "max drawdown (share of equity)",
        SHARE,
        "the largest drawdown as a share of the book size plus the P&L before it",
    ),
    Metric(
        "hedging_efficiency",
        "hedging efficiency (0 coins, 1 oracle)",
        RATIO,
        "book variance saved against coins, as a share of what the oracle saves",
    ),
    Metric("bell_pairs", "Bell pairs used", COUNT, "Bell pairs the strategy measured"),
    Metric("quantum_share", "rounds on a Bell pair", SHARE, "share of rounds played on a Bell pair"),
    Metric(
        "sharpe_spread",
        "Sharpe of the spread income",
        MONEY2,
        "annualised Sharpe ratio of the spread income alone",
        "the spread income has zero variance",
        table=False,
    ),
    Metric(
        "pnl_var_before_costs",
        "book variance before costs (currency²/round)",
        MONEY2,
        "variance of the book P&L without the switching costs",
        "fewer than two rounds",
        table=False,
    ),
    Metric(
        "mean_pair_age",
        "mean Bell-pair age (s)",
        ".3g",
        "mean storage age of the pairs measured, herald included",
        "no Bell pair was used",
        table=False,
    ),
    Metric("n_rounds", "test rounds", COUNT, "rounds the strategy played on the test window", table=False),
)
BY_NAME = {m.name: m for m in METRICS}
METRIC_KEYS = tuple(m.name for m in METRICS)
REASONS = {m.name: m.undefined for m in METRICS if m.undefined != "undefined"}
SUMMARY_COLUMNS = {m.name: m.short for m in METRICS if m.short}  # the terminal table: key -> short header

FLAGS: tuple[Flag, ...] = (
    Flag("lookahead", "probable look-ahead: hedges more rounds than information available before the round allows"),
    Flag("sharpe", "Sharpe driven by spread income at an assumed fill rate (see sharpe_directional)"),
    Flag(
        "sharpe_range",
        "Sharpe outside the range published for strategies at this data's frequency (daily: -3 to "
        "3; intraday market makers: -10 to 10; docs/fills.md): read it as the model's, not money",
    ),
    Flag("hedging_efficiency", "hedging efficiency outside [0, 1]"),
    Flag("max_drawdown_share", "the book lost more than its size"),
)
FLAG_TEXT = {f.key: f.text for f in FLAGS}


def document() -> dict:
    """The registry as the run document carries it: metrics.json ``metric_info`` and ``flag_info``."""
    return {"metric_info": {m.name: asdict(m) for m in METRICS}, "flag_info": dict(FLAG_TEXT)}
