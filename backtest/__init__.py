"""qcoord's engine package: indicators, market makers and fills, P&L and risk, and the ``qcoord`` command line.

It is the only package that ties ``data``, ``strategies`` and ``reports`` together.
"""

__version__ = "0.1.0"
