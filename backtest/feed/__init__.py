"""Stage 1, the feed: market rows in, each server's local view and indicator bit out.

``feeds`` holds the feeds that deliver rounds in chunks (arrays in memory, the streamed synthetic pair) behind one
``Feed`` protocol; ``views`` the causal, per-server view of the data an indicator may read; ``indicators`` the
built-in and user indicators with their causality check; ``sources`` the description of where the data comes from
(synthetic, sample, CSV, Yahoo).
"""
