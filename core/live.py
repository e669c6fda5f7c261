"""Live updates: "something changed" events from the engines to open pods.

The sync engine and the metric engine publish small events — ``records`` changed for an
entity, ``metrics`` changed for some people — and every open pod that may care re-fetches
its body. Events carry no figures and no record ids: a pod always re-reads the store
through its guarded route, so an event can never show a viewer something they may not see.

Transport (design §8): with ``REDIS_URL``, Redis pub/sub, so any web process's streams
hear what any worker published; without it, an in-process channel, which is exactly as
far as the embedded one-process setup reaches. Channels carry the tenant (and the person)
in their name, so a subscription cannot receive another tenant's events:

* ``podium:live:<tenant>`` — tenant-wide events (records of an entity changed);
* ``podium:live:<tenant>:person:<id>`` — events about one person, heard by that person;
* ``podium:live:<tenant>:people`` — every per-person event, heard by viewers who may
  see other people (managers, admins, auditors).

This module is also the built-in plugin ``live`` (entry point ``live = podium.live``): it
implements ``podium_records_changed`` so every sync tells open pods of the tenant.

Pods hear events through a Server-Sent Events stream (:func:`sse_events`), opened with a
one-use ticket because ``EventSource`` cannot send an ``Authorization`` header; a comment
line every ``keepalive`` seconds keeps proxies from closing an idle stream, and a stream
ends after ``max_stream`` seconds so a viewer who lost access stops hearing events within
that bound (the pod reconnects with a fresh ticket). Where a stream cannot be held, the
pod polls its body instead (``ETag``, so an unchanged pod costs a 304).
"""

from __future__ import annotations

import functools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
from podium import hookimpl
from podium.config import Config
from podium.runtime import Podium

PREFIX = "podium:live"
KINDS = ("records", "metrics")
PEOPLE_WATCHERS = frozenset({"admin", "manager", "auditor"})
"""Roles whose pods show other people's figures, so they hear every per-person event."""


@dataclass(frozen=True)
class LiveSettings:
    """Stream tuning, from ``Config.extra`` (``PODIUM_LIVE_KEEPALIVE_SECONDS`` etc.)."""

    sse: bool = True
    """False serves no streams (a proxy that buffers responses): pods poll."""
    keepalive: float = 15.0
    max_stream: float = 300.0
    poll_seconds: float = 10.0
    retry_ms: int = 2000
    """The ``retry:`` hint sent to the browser, and the pod script's first reconnect delay."""

    @classmethod
    def from_config(cls, config: Config) -> LiveSettings:
        extra = config.extra
        sse = extra.get("live_sse", cls.sse)
        return cls(
            sse=sse if isinstance(sse, bool) else str(sse).lower() not in ("0", "false", "no", "off"),
            keepalive=float(extra.get("live_keepalive_seconds", cls.keepalive)),
            max_stream=float(extra.get("live_max_stream_seconds", cls.max_stream)),
            poll_seconds=float(extra.get("pod_poll_seconds", cls.poll_seconds)),
            retry_ms=int(extra.get("live_retry_ms", cls.retry_ms)),
        )


@dataclass(frozen=True)
class LiveEvent:
    """One change notice: ``kind`` is ``records`` or ``metrics``; ``data`` names what changed."""

    kind: str
    tenant_id: int
    person_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps({"kind": self.kind, "tenant_id": self.tenant_id, "person_id": self.person_id, "data": self.data})

    @classmethod
    def decode(cls, raw: str | bytes) -> LiveEvent:
        value = json.loads(raw)
        return cls(value["kind"], value["tenant_id"], value.get("person_id"), value.get("data") or {})


def tenant_channel(tenant_id: int) -> str:
    return f"{PREFIX}:{tenant_id}"


def person_channel(tenant_id: int, person_id: int) -> str:
    return f"{PREFIX}:{tenant_id}:person:{person_id}"


def people_channel(tenant_id: int) -> str:
    return f"{PREFIX}:{tenant_id}:people"


def viewer_channels(tenant_id: int, person_id: int | None, role: str) -> list[str]:
    """The channels a viewer with this person and role may hear."""
    channels = [tenant_channel(tenant_id)]
    if person_id is not None:
        channels.append(person_channel(tenant_id, person_id))
    if role in PEOPLE_WATCHERS:
        channels.append(people_channel(tenant_id))
    return channels


# -- brokers -----------------------------------------------------------------------------


class Subscription(Protocol):
    def get(self, timeout: float) -> LiveEvent | None:
        """The next event, or None when ``timeout`` seconds pass without one."""

    def close(self) -> None: ...


class Broker(Protocol):
    def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channels: Iterable[str]) -> Subscription: ...


class LocalSubscription:
    def __init__(self, broker: LocalBroker, channels: list[str]) -> None:
        self.broker = broker
        self.channels = channels
        self.inbox: queue.SimpleQueue[str] = queue.SimpleQueue()

    def get(self, timeout: float) -> LiveEvent | None:
        try:
            return LiveEvent.decode(self.inbox.get(timeout=max(0.0, timeout)))
        except queue.Empty:
            return None

    def close(self) -> None:
        self.broker.unsubscribe(self)


class LocalBroker:
    """Pub/sub between the threads of one process: each subscription has its own queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[LocalSubscription]] = {}

    def publish(self, channel: str, message: str) -> None:
        with self._lock:
            listeners = list(self._subscribers.get(channel, ()))
        for subscription in listeners:
            subscription.inbox.put(message)

    def subscribe(self, channels: Iterable[str]) -> LocalSubscription:
        subscription = LocalSubscription(self, list(channels))
        with self._lock:
            for channel in subscription.channels:
                self._subscribers.setdefault(channel, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: LocalSubscription) -> None:
        with self._lock:
            for channel in subscription.channels:
                listeners = self._subscribers.get(channel)
                if listeners is not None:
                    listeners.discard(subscription)
                    if not listeners:
                        del self._subscribers[channel]


class RedisSubscription:
    def __init__(self, client: redis.Redis, channels: list[str], clock: Callable[[], float]) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(*channels)
        self.clock = clock

    def get(self, timeout: float) -> LiveEvent | None:
        # get_message returns None early for an ignored subscribe confirmation, so wait
        # out the rest of the timeout instead of reporting "nothing happened" too soon.
        deadline = self.clock() + timeout
        while True:
            message = self.pubsub.get_message(timeout=max(0.0, deadline - self.clock()))
            if message is not None and message["type"] == "message":
                return LiveEvent.decode(message["data"])
            if self.clock() >= deadline:
                return None

    def close(self) -> None:
        self.pubsub.close()


class RedisBroker:
    """Redis pub/sub: every process subscribed to a channel hears what any process publishes."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def publish(self, channel: str, message: str) -> None:
        self.client.publish(channel, message)

    def subscribe(self, channels: Iterable[str]) -> RedisSubscription:
        return RedisSubscription(self.client, list(channels), time.monotonic)


LOCAL = LocalBroker()
"""The process's in-process channel (what "no Redis" means: one process)."""


@functools.cache
def _redis_broker(url: str) -> RedisBroker:
    return RedisBroker(url)


def broker(podium: Podium) -> Broker:
    """Redis when the runtime has it, else the in-process channel."""
    return _redis_broker(podium.config.redis_url) if podium.config.redis_url else LOCAL


# -- publishing --------------------------------------------------------------------------


def publish(podium: Podium, event: LiveEvent) -> None:
    """Send ``event`` to whoever may hear it (see the module docstring for the channels)."""
    if event.kind not in KINDS:
        raise ValueError(f"unknown live event kind {event.kind!r}; one of {', '.join(KINDS)}")
    target = broker(podium)
    message = event.encode()
    if event.person_id is None:
        target.publish(tenant_channel(event.tenant_id), message)
        return
    target.publish(person_channel(event.tenant_id, event.person_id), message)
    target.publish(people_channel(event.tenant_id), message)


def records_changed(podium: Podium, tenant_id: int, entity: str) -> None:
    """Records of ``entity`` were written for the tenant (after the sync's commit)."""
    publish(podium, LiveEvent("records", tenant_id, data={"entity": entity}))


@hookimpl
def podium_records_changed(podium: Podium, tenant_id: int, entity: str) -> None:
    """Plugin hook (this module is the built-in plugin ``live``): synced records reach open pods."""
    records_changed(podium, tenant_id, entity)


def metrics_changed(podium: Podium, tenant_id: int, person_ids: Iterable[int]) -> None:
    """Metric values of these people were recomputed."""
    for person_id in sorted(set(person_ids)):
        publish(podium, LiveEvent("metrics", tenant_id, person_id))


# -- the stream --------------------------------------------------------------------------


def sse_message(event: LiveEvent) -> str:
    """One Server-Sent Events message: the event name is the kind, the data its JSON."""
    body = json.dumps({"person_id": event.person_id, **event.data})
    return f"event: {event.kind}\ndata: {body}\n\n"


def sse_events(
    subscription: Subscription, settings: LiveSettings, clock: Callable[[], float] = time.monotonic
) -> Iterator[str]:
    """The body of an event stream over ``subscription``, which it closes when done.

    Starts with the reconnect hint and an ``open`` comment (so the browser's ``onopen``
    fires and proxies flush headers at once), then events as they come, a comment line
    after each ``keepalive`` seconds of silence, and ends after ``max_stream`` seconds.
    """
    deadline = clock() + settings.max_stream
    try:
        yield f"retry: {settings.retry_ms}\n: open\n\n"
        while (left := deadline - clock()) > 0:
            event = subscription.get(timeout=min(settings.keepalive, left))
            yield ": keep-alive\n\n" if event is None else sse_message(event)
    finally:
        subscription.close()
