"""What one Bell pair is worth to the book: variance saved per pair consumed, and its certainty equivalent."""

from __future__ import annotations


def bell_pair_value(values: dict, metrics: dict, n_test: int, book: float, gamma: float) -> dict:
    """Book variance saved per Bell pair consumed (currency^2), predicted by the fit and realised on the test
    window against the classical rule the pairs replace, and its certainty equivalent for a mean-variance
    investor with absolute risk aversion gamma / book_size: CE = gamma / (2 book) x variance saved."""
    predicted = values["quantum"]["saved"] - values["classical"]["saved"]  # per round played on a pair
    q, c = metrics["quantum"], metrics["classical"]
    pairs = q.get("bell_pairs") or 0
    realised = (c["pnl_var"] - q["pnl_var"]) * n_test / pairs if pairs else None
    before = (
        (c["pnl_var_before_costs"] - q["pnl_var_before_costs"]) * n_test / pairs
        if pairs and c.get("pnl_var_before_costs") is not None
        else None
    )
    extra_costs = (q["pnl_costs"] - c["pnl_costs"]) * n_test / pairs if pairs else None
    lam = gamma / book
    net = None if realised is None else (q["pnl_mean"] - c["pnl_mean"]) * n_test / pairs + lam / 2 * realised
    return {
        "predicted_variance_saved": predicted,
        "realised_variance_saved": realised,
        "realised_variance_saved_before_costs": before,
        "extra_costs": extra_costs,
        "realised_net_certainty_equivalent": net,
        "predicted_certainty_equivalent": lam / 2 * predicted,
        "realised_certainty_equivalent": None if realised is None else lam / 2 * realised,
        "risk_aversion": gamma,
        "pairs": pairs,
        "unit": "variance in currency^2 per pair; certainty equivalent and costs in currency per pair (net: the "
        "mean P&L difference, costs included, plus the certainty equivalent of the variance saved)",
    }
