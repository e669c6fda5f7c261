"""Podium's autotask plugin."""
