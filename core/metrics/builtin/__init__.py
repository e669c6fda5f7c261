"""Podium's built-in metrics, one module per family, registered by :mod:`.plugin` through
the same ``podium_register_metrics`` hook a third-party plugin uses (design §2)."""
