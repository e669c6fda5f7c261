"""Podium's ninja_rmm plugin."""
