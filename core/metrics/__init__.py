"""Metrics: the contract metric plugins implement, and (later) the engine that runs them."""

from podium.metrics.base import Metric

__all__ = ["Metric"]
