"""Podium's halo plugin."""
