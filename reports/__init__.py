"""Reports: tables, figures, HTML and run comparison from plain pandas/dicts."""
