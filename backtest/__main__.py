"""``python -m backtest`` runs the ``qcoord`` command line."""

import sys

from .cli import main

sys.exit(main())
