"""One module per ``qcoord`` subcommand; each has ``add_parser(subparsers)`` and ``run(args) -> int``."""
