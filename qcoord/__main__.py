"""``python -m qcoord`` runs the ``qcoord`` command line."""

import sys

from qcoord.backtest.cli import main

sys.exit(main())
