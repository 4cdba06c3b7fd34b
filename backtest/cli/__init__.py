"""The ``qcoord`` command line: ``main`` parses and dispatches, ``arguments`` holds the helpers every command
shares (options from the declared configuration, output checks), ``commands`` one module per subcommand. No command
imports another.
"""

from .main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
