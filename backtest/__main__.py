"""``python -m qcoord.backtest`` runs the ``qcoord`` command line (as ``python -m qcoord`` does)."""

import sys

from .cli import main

sys.exit(main())
