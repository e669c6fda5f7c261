"""The payout-rule contract.

A rule reads metric values only (design §1: payout rules never query vendors or raw
records) and returns lines that carry their own explanation, so a statement can say in
words and numbers why each amount is what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from marshmallow import Schema


@dataclass(frozen=True)
class PayoutLine:
    """One amount for one person, in integer minor units, with the math behind it."""

    person_id: int
    rule: str
    amount_minor: int
    currency: str
    explanation: str
    inputs: dict[str, Any] = field(default_factory=dict)


class PayoutRule:
    """Base class of every payout rule type; subclass it and register it with ``registry.add``."""

    key: ClassVar[str]
    """The rule type's name in plan files, e.g. ``"weighted_scorecard"``."""
    label: ClassVar[str]
    config_schema: ClassVar[type[Schema]] = Schema

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = self.config_schema().load(config)

    def evaluate(self, context: Any) -> list[PayoutLine]:
        """Compute this rule's lines for the period and people in ``context``."""
        raise NotImplementedError
