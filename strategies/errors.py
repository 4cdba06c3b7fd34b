"""The one error type of the strategies package."""


class StrategyError(ValueError):
    """Bad game, strategy or noise input; the message names the parameter and value at fault."""
