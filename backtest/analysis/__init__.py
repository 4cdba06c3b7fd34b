"""Stage 5, the analysis: what the numbers mean, with their uncertainty.

``hedge`` fits the book's hedge game on the training window and asks what it would take for entanglement to pay;
``paired`` the paired tests between strategies (HAC and fixed-b); ``periods`` the same tests per period; ``stats``
the shared statistical helpers (Wilson intervals, floored p-values, the 95% z).
"""
