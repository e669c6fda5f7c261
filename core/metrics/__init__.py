"""Metrics: the contract metric plugins implement (:mod:`.base`) and the engine that runs
them (:mod:`.engine`; imported on demand — it needs the runtime, which needs this)."""

from podium.metrics.base import ROW_COLUMNS, Metric, MetricParamsError, row

__all__ = ["ROW_COLUMNS", "Metric", "MetricParamsError", "row"]
