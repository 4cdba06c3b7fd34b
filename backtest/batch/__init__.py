"""Many runs at once: ``qcoord scan`` over a universe's pairs and ``qcoord sweep`` over a parameter grid.

``scan`` selects pairs, runs them and ranks them with a false-discovery-rate control; ``cluster`` the executor (a
plain local loop, a Dask LocalCluster or an existing scheduler).
"""
