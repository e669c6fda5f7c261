"""Payouts: the contract payout-rule plugins implement, and (later) the engine."""

from podium.payouts.base import PayoutLine, PayoutRule

__all__ = ["PayoutLine", "PayoutRule"]
