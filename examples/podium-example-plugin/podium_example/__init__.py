"""An example third-party Podium plugin: the ``first_touch_pct`` metric and the
``streak_bonus`` payout rule type (registered by :mod:`podium_example.plugin`)."""

__version__ = "1.0.0"
