"""Stage 5, the analysis after play: what the numbers mean, with their uncertainty.

``frontier``: what it would take for entanglement to pay; ``drift``: whether the game fitted on the training window
still describes the test window; ``bell_pair``: what one Bell pair is worth; ``periods``: the paired tests per
calendar period; ``simulation``: a solved game on sampled rounds; ``feasibility``: a physical link's chain. The
statistics they use are in ``backtest.stats``, below every stage; the hedge game's fit is ``players.hedge``.
"""
