"""Stage 6, the output: the ``Result`` a run returns, its prose, and the run folder it writes.

``result`` holds the result's data and its JSON; ``runs`` writes and reads run folders (metrics.json, config.toml,
P&L, figures, report.html); ``atomic`` the one writer that never leaves a half-written file.
"""
