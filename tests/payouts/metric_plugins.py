"""Plugin files for the payout tests' runtimes (written to a plugins directory).

Every metric the built-in payout rules read is in the built-in catalogue now
(``podium.metrics.builtin``: ``hours_worked``, ``recurring_revenue``, ``reopened_tickets``,
``collected_revenue``, ``gross_profit``, ``after_hours_hours``, ``rca_documented_pct``), so
no metric stands in here any more.

``builtin_metrics`` and ``builtin_payout_rules`` load Podium's built-in metric and rule
plugin modules for runtimes where their entry points are not installed (setup.cfg:
``podium_metrics = podium.metrics.builtin.plugin``, ``payout_rules =
podium.payouts.builtin``). Entry points load before the plugins directory, so where they
are installed these files fail to register (duplicate keys), are isolated, and the entry
points' plugins are what the tests use.
"""

from __future__ import annotations

BUILTIN_METRICS = "from podium.metrics.builtin.plugin import podium_register_metrics  # noqa: F401\n"

BUILTIN_PAYOUT_RULES = "from podium.payouts.builtin import podium_register_payout_rules  # noqa: F401\n"

PLUGINS = {
    "builtin_metrics": BUILTIN_METRICS,
    "builtin_payout_rules": BUILTIN_PAYOUT_RULES,
}
