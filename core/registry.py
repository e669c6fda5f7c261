"""Typed registries handed to the registration hooks.

A plugin says ``registry.add(MyMetric)`` instead of returning an anonymous list, so a
wrong class, a missing key or a key two plugins claim fails at start-up with the names
of both plugins, and every registered class remembers which plugin brought it (for
``/-/plugins`` and for isolating that plugin when it fails later).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Generic, TypeVar

T = TypeVar("T")


class RegistrationError(ValueError):
    """A plugin registered something the registry cannot accept."""


class Registry(Generic[T]):
    """Classes of one kind, keyed by their ``key`` attribute.

    ``kind`` is the base class every entry must subclass; the plugin manager sets
    ``current_plugin`` while it calls each plugin's hook, so entries are attributed.
    """

    label: ClassVar[str] = "entry"

    def __init__(self, kind: type[T]) -> None:
        self.kind = kind
        self._entries: dict[str, type[T]] = {}
        self._owners: dict[str, str] = {}
        self.current_plugin: str = "podium"

    def add(self, cls: type[T]) -> type[T]:
        """Register ``cls``; returns it, so it can be used as a class decorator."""
        if not isinstance(cls, type) or not issubclass(cls, self.kind):
            raise RegistrationError(
                f"{self.current_plugin}: {cls!r} is not a subclass of {self.kind.__module__}.{self.kind.__name__}"
            )
        key = getattr(cls, "key", None)
        if not isinstance(key, str) or not key:
            raise RegistrationError(f"{self.current_plugin}: {cls.__name__} has no string `key`")
        if key in self._entries and self._entries[key] is not cls:
            raise RegistrationError(
                f"{self.current_plugin}: key {key!r} of {cls.__name__} is already registered "
                f"by plugin {self._owners[key]!r}"
            )
        self._entries[key] = cls
        self._owners[key] = self.current_plugin
        return cls

    def discard_plugin(self, plugin: str) -> list[str]:
        """Remove everything ``plugin`` registered (it failed); returns the removed keys."""
        removed = [key for key, owner in self._owners.items() if owner == plugin]
        for key in removed:
            del self._entries[key]
            del self._owners[key]
        return removed

    def owner(self, key: str) -> str:
        return self._owners[key]

    def keys_of(self, plugin: str) -> list[str]:
        return [key for key, owner in self._owners.items() if owner == plugin]

    def get(self, key: str) -> type[T]:
        try:
            return self._entries[key]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"no {self.kind.__name__} with key {key!r} (registered: {known})") from None

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[type[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
