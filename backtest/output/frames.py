"""A result's nested documents as DataFrames for people and notebooks (``Result.comparison_table()``,
``Result.hedge_table()``); the dicts stay what metrics.json holds."""

from __future__ import annotations

import pandas as pd


def comparison_table(comparison: dict) -> pd.DataFrame:
    """One row per paired comparison (quantum_vs_best_local, quantum_vs_strongest_local, ...): the opponent, every
    number, each 95% interval as ``<name>_lo``/``<name>_hi``, the discordant rounds as ``quantum_only``/
    ``opponent_only``, and the fixed-b bandwidth ratio ``b``; the method's text is left to the dict."""
    rows = {}
    for label, c in comparison.items():
        row: dict = {}
        for key, value in c.items():
            if key.endswith("_ci95") and isinstance(value, (list, tuple)) and len(value) == 2:
                base = key.removesuffix("_ci95")
                row[f"{base}_lo"], row[f"{base}_hi"] = value
            elif key == "discordant_rounds" and isinstance(value, dict):
                row |= value
            elif key == "fixed_b" and isinstance(value, dict):
                row["b"] = value.get("b")
            elif key != "method" and not isinstance(value, (dict, list)):
                row[key] = value
        rows[label] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "comparison"
    return frame


def hedge_table(hedge: dict | None) -> pd.DataFrame | None:
    """The hedge game fitted on the training window, one row per strategy it values (uncoordinated, constant
    hedge, classical, quantum, oracle): book variance (currency² a round, before costs), variance saved against
    independent coins and its share. None for a fixed game."""
    if hedge is None:
        return None
    frame = pd.DataFrame.from_dict(hedge["values"], orient="index")
    frame.index.name = "strategy"
    return frame
