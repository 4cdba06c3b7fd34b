"""The one error type of the data package."""


class DataError(ValueError):
    """Bad market-data input: the message names the file, ticker, parameter or value at fault.

    A ``ValueError`` subclass so that callers who only know the standard library can still catch it;
    the ``qcoord`` command line turns it into a one-line message and exit code 2.
    """


class DataWarning(UserWarning):
    """Something was dropped or adjusted while loading (e.g. rows removed when aligning a pair)."""
