"""``python -m qcoord.backtest`` runs the ``qcoord`` command line (as ``python -m qcoord`` does)."""

import sys

from .cli.main import main

sys.exit(main())
