"""The pod contract: a small view the PSA shows in an iframe.

Pods only read what the engines produced (design §1); the pod session (who is looking,
verified through the vendor's embed handshake or a Podium sign-in) is resolved before a
pod renders, so a pod can never be asked to show a figure its viewer may not see.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal


class Pod:
    """Base class of every pod; subclass it and register it with ``registry.add``."""

    key: ClassVar[str]
    """URL name: the pod is served at ``/pods/<key>``."""
    title: ClassVar[str]
    audience: ClassVar[Literal["technician", "manager", "admin"]] = "technician"
    context: ClassVar[Literal["member", "ticket", "company"]] = "member"

    def render(self, view: Any) -> Any:
        """Return the response body for the viewer and record described by ``view``."""
        raise NotImplementedError
