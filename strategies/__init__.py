"""Coordination strategies for the hedging game (filled in by the coordination-core work)."""
