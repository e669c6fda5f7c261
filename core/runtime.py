"""The Podium runtime: configuration, database, plugins and secrets, built once per process.

The web app, the CLI, RQ workers and the in-process job thread all need the same four
things; building them here keeps a worker from depending on Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from podium.config import Config
from podium.crypto import SecretBox
from podium.db import Database
from podium.plugins import PluginManager


@dataclass
class Podium:
    """Everything a request, a job or a command works with."""

    config: Config

    @cached_property
    def db(self) -> Database:
        from podium.org.changes import watch  # noqa: PLC0415 - it enqueues jobs, which need this module

        database = Database(self.config.database_url)
        watch(self, database)  # org edits queue a metrics refresh, whoever makes them
        return database

    @cached_property
    def plugins(self) -> PluginManager:
        return PluginManager(self.config).load()

    @cached_property
    def secrets(self) -> SecretBox:
        return SecretBox(self.config.secret_key)

    @classmethod
    def from_env(cls, **overrides: object) -> Podium:
        return cls(Config.from_env(**overrides))
