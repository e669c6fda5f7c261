"""Podium's connectwise plugin."""
