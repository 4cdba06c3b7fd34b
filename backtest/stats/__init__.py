"""The statistics toolkit, below every stage: any stage may import it, and it imports no stage.

``intervals``: Wilson intervals, floored p-values, the 95% z, seeded input draws; ``paired``: paired tests between
strategies on the same rounds (HAC, fixed-b critical values, block bootstrap lengths); ``cells``: co-movement sums
and statistics per input cell (x, y), and the per-round targets every strategy shares.
"""
