"""The one error type of the backtest package."""


class BacktestError(ValueError):
    """Bad backtest input or configuration; the message names the option, file or value at fault."""
