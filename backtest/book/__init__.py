"""Stage 4, the book: the combined P&L of both servers, accumulated chunk by chunk without keeping every round.

``book`` plays each strategy's outputs through the fill model and keeps what the report needs; ``risk`` the running
metrics per strategy (win rate, Sharpe, drawdown, ...) in a compiled kernel, and the comparisons between strategies.
"""
