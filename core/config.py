"""Configuration: environment variables over an instance config file over defaults.

The embedded default needs nothing set: a SQLite file in the instance folder, no Redis,
and a generated secret key kept in that folder. Production sets ``DATABASE_URL``,
``REDIS_URL`` and ``PODIUM_SECRET_KEY`` (design §5).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "PODIUM_"

TUNING_KEYS = (
    "http_retry_attempts",
    "http_retry_backoff",
    "http_retry_max_wait",
    "http_retry_jitter",
    "sync_interval_minutes",
    "reconcile_hour_utc",
    "metrics_refresh_minutes",
    "pod_token_ttl_seconds",
    "stream_ticket_ttl_seconds",
    "signin_code_ttl_seconds",
    "live_sse",
    "live_keepalive_seconds",
    "live_max_stream_seconds",
    "live_retry_ms",
    "pod_poll_seconds",
    "oidc_providers",
    "team_leaderboard",
)
"""Settings each read by the one module they tune (``podium.http``, ``podium.scheduler``,
``podium.podsession``, ``podium.live``, ``podium.web.signin``, ``podium.web.team_pod``), kept in
``Config.extra``; set as ``PODIUM_<KEY>`` (e.g. ``PODIUM_HTTP_RETRY_ATTEMPTS``) or in the instance file."""


def _split(value: str | None) -> tuple[str, ...] | None:
    """Parse a comma-separated list from the environment; unset means "no list"."""
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Config:
    """Everything Podium reads from its environment, resolved once at start-up."""

    instance_path: Path
    database_url: str
    secret_key: str
    redis_url: str | None = None
    plugins_dir: Path | None = None
    load_plugins: tuple[str, ...] | None = None
    """Allow-list of plugin names (``PODIUM_LOAD_PLUGINS``); an empty value loads only built-ins."""
    block_plugins: tuple[str, ...] = ()
    """Block-list of plugin names (``PODIUM_BLOCK_PLUGINS``)."""
    load_entry_points: bool = True
    sync_overlap_seconds: int = 300
    sync_batch_size: int = 200
    request_budget_per_minute: int = 600
    base_url: str = "http://127.0.0.1:5000"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def disabled_plugins_file(self) -> Path:
        """Where ``podium plugins disable`` records its choices."""
        return self.instance_path / "disabled_plugins.json"

    def disabled_plugins(self) -> tuple[str, ...]:
        """Names disabled with ``podium plugins disable`` (persisted in the instance folder)."""
        try:
            return tuple(json.loads(self.disabled_plugins_file.read_text()))
        except FileNotFoundError:
            return ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Config:
        """Build the configuration from ``env`` (default ``os.environ``) and the instance file."""
        env = dict(os.environ if env is None else env)
        instance = Path(overrides.pop("instance_path", None) or env.get(f"{ENV_PREFIX}INSTANCE") or "instance")
        instance = instance.resolve()
        instance.mkdir(parents=True, exist_ok=True)
        file_values: dict[str, Any] = {}
        config_file = instance / "podium.json"
        if config_file.exists():
            file_values = json.loads(config_file.read_text())
        known = {f.name for f in fields(cls)}

        def pick(name: str, env_name: str, default: Any = None) -> Any:
            if name in overrides:
                return overrides.pop(name)
            if env_name in env:
                return env[env_name]
            return file_values.get(name, default)

        values: dict[str, Any] = {
            "instance_path": instance,
            "database_url": pick("database_url", "DATABASE_URL", f"sqlite:///{instance / 'podium.db'}"),
            "redis_url": pick("redis_url", "REDIS_URL") or None,
            "secret_key": pick("secret_key", f"{ENV_PREFIX}SECRET_KEY") or _instance_secret(instance),
            "base_url": pick("base_url", f"{ENV_PREFIX}BASE_URL", "http://127.0.0.1:5000"),
        }
        plugins_dir = pick("plugins_dir", f"{ENV_PREFIX}PLUGINS_DIR")
        values["plugins_dir"] = Path(plugins_dir) if plugins_dir else None
        values["load_plugins"] = overrides.pop("load_plugins", _split(env.get(f"{ENV_PREFIX}LOAD_PLUGINS")))
        values["block_plugins"] = overrides.pop(
            "block_plugins", _split(env.get(f"{ENV_PREFIX}BLOCK_PLUGINS")) or ()
        )
        for name, cast in (
            ("sync_overlap_seconds", int),
            ("sync_batch_size", int),
            ("request_budget_per_minute", int),
        ):
            raw = pick(name, f"{ENV_PREFIX}{name.upper()}")
            if raw is not None:
                values[name] = cast(raw)
        values.update({k: v for k, v in overrides.items() if k in known})
        extra = {key: pick(key, f"{ENV_PREFIX}{key.upper()}") for key in TUNING_KEYS}
        extra.update({k: v for k, v in overrides.items() if k not in known})
        values["extra"] = {k: v for k, v in extra.items() if v is not None}
        return cls(**values)


def _instance_secret(instance: Path) -> str:
    """A per-instance secret key for the embedded default, created once with mode 0600.

    Production sets ``PODIUM_SECRET_KEY``; losing this file makes stored vendor secrets
    unreadable, which is why it sits next to the SQLite file it protects.
    """
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
