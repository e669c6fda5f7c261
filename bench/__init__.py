"""Benchmarks, run on demand (``make bench`` or ``python -m bench <name>``), never by the test suite."""
