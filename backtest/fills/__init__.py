"""Stage 3, the fills: how a quoting order becomes P&L. Small swappable objects behind the ``FillModel`` interface.

``models`` holds the interface, the bias and queue models and their compiled loops; ``calibrate`` estimates the
queue model's fill probabilities from minute quote bars (``qcoord calibrate``).
"""
