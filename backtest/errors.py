"""The error and warning types of the backtest package."""


class BacktestError(ValueError):
    """Bad backtest input or configuration; the message names the option, file or value at fault."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a batch of jobs (a scan, a sweep), after the jobs that had finished were saved: the message says
    how many, and where (the command line prints it on the one line it gives an interrupt)."""


class RenamedWarning(FutureWarning):
    """An old name still accepted (a strategy, an option): the message gives the new one. Shown to users by
    default (a FutureWarning), once per place it is used; old names go in a later version."""


# old name -> new name: strategies and options that were renamed ("memory" meant three things: the history rules,
# the quantum memory and RAM; the history rules are now called that)
RENAMED_STRATEGIES = {"memory": "history"}
RENAMED_OPTIONS = {"memory": "history", "indicators.memory": "indicators.history"}
RENAMED_FLAGS = {"--memory": "--history"}


def renamed(kind: str, old: str, new: str) -> None:
    import warnings

    warnings.warn(
        f"{kind} {old!r} is now called {new!r}; the old name goes in a later version", RenamedWarning, stacklevel=3
    )
