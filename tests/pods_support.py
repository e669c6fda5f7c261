"""Shared by the pod tests: a runtime with the pod plugins loaded, a small org, pod tokens.

Two vendors are plugins here, loaded by Podium's real plugin manager from a plugins
directory, the way a third party ships one:

* ``tabpsa`` frames pods but vouches for no one (like Autotask and Halo tabs), so its
  pods sign in through the popup;
* ``signedpsa`` hands the pod a member id signed with a key it shares with the
  connection (HMAC), which its handshake checks server-side.

``whoami`` comes from its real entry point (allow-listed, so other installed plugins
stay out of these tests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from podium.app import create_app
from podium.auth import create_user
from podium.connections import create_connection
from podium.models import Identity, Person, PersonFact, Tenant, Ticket, TimeEntry
from podium.podsession import PodGrant, grant_for_user, issue_token
from podium.runtime import Podium
from podium.web import register_web
from podium.web.whoami import month_bounds

from tests.conftest import TEST_SECRET_KEY

PASSWORD = "correct horse battery staple"
SIGNING_KEY = "shared-signing-key-of-the-vendor"
TENANT_TZ = "America/New_York"

EMBED_VENDORS = '''
import hashlib
import hmac

from marshmallow import Schema, fields

from podium import hookimpl
from podium.datasource import DataSource
from podium.embed import EmbedHandshake, EmbedRefused, VerifiedMember


class SiteConfig(Schema):
    site = fields.Url(required=True, require_tld=False)


class TabEmbed(EmbedHandshake):
    signs_identity = False

    def parent_origins(self, connection):
        return [self.source.config["site"]]


class TabPsa(DataSource):
    key = "tabpsa"
    label = "Tab PSA"
    config_schema = SiteConfig
    embed = TabEmbed


class SignedConfig(SiteConfig):
    signing_key = fields.String(required=True, metadata={"secret": True})


class SignedEmbed(TabEmbed):
    signs_identity = True

    def verify(self, connection, claims):
        member = str(claims.get("member", ""))
        key = self.source.config["signing_key"].encode()
        expected = hmac.new(key, member.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(claims.get("signature", ""))):
            raise EmbedRefused("tampered", "The PSA's signature on your identity does not match.")
        return VerifiedMember(external_id=member)

    @classmethod
    def client_script(cls):
        return "PodiumPod.registerHandshake(async (parent) => JSON.parse(await parent.receive(() => true)));"


class SignedPsa(DataSource):
    key = "signedpsa"
    label = "Signed PSA"
    config_schema = SignedConfig
    embed = SignedEmbed


@hookimpl
def podium_register_data_sources(registry):
    registry.add(TabPsa)
    registry.add(SignedPsa)
'''


def pod_runtime(database_url: str, tmp_path: Path, **overrides: Any) -> Podium:
    """A runtime with the whoami pod and the two test vendors, and nothing else."""
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "embed_vendors.py").write_text(EMBED_VENDORS)
    options: dict[str, Any] = {
        "instance_path": tmp_path / "instance",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "redis_url": None,
        "plugins_dir": plugins,
        "load_plugins": ("whoami", "embed_vendors"),
    }
    return Podium.from_env(**{**options, **overrides})


def web_app(podium: Podium) -> Flask:
    app = create_app(podium, run_jobs=False)
    register_web(app)
    return app


def sign(member: str) -> str:
    """What the ``signedpsa`` vendor hands a pod for ``member``."""
    return hmac.new(SIGNING_KEY.encode(), member.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Org:
    """One tenant: Ada and Bob (technicians), Mia (manages Ada), Root (admin); only Ada
    has a password (hashing is slow on purpose).

    Ada and Bob are linked vendor identities on both connections (``m-ada``, ``m-bob``);
    ``m-ghost`` is a vendor account linked to no one. Ada resolved 2 tickets and entered
    3 time entries (5.5 h) this month; Bob 1 ticket and 1 entry.
    """

    tenant_id: int
    tab_connection_id: int
    signed_connection_id: int
    ada: int
    bob: int
    mia: int
    ada_user: int
    bob_user: int
    mia_user: int
    admin_user: int
    ada_identity: int


def in_this_month() -> dt.datetime:
    start, _end = month_bounds(dt.datetime.now(dt.UTC).astimezone(_tz()).date(), TENANT_TZ)
    now = dt.datetime.now(dt.UTC)
    return start + (now - start) / 2


def _tz() -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(TENANT_TZ)


def seed_org(podium: Podium, parent_origin: str, slug: str = "acme") -> Org:
    with podium.db.session() as session:
        tenant = Tenant(slug=slug, name=f"{slug.title()} IT", time_zone=TENANT_TZ, currency="USD")
        session.add(tenant)
        session.flush()
        tid = tenant.id
    with podium.db.session(tenant_id=tid) as session:
        tab = create_connection(podium, session, tid, "tabpsa", "Tabs", {"site": parent_origin})
        signed = create_connection(
            podium, session, tid, "signedpsa", "Signed", {"site": parent_origin, "signing_key": SIGNING_KEY}
        )
        people = {name: Person(display_name=full, email=f"{name}@{slug}.example") for name, full in
                  (("ada", "Ada Lovelace"), ("bob", "Bob Page"), ("mia", "Mia Hamm"))}
        session.add_all(people.values())
        session.flush()
        today = dt.datetime.now(_tz()).date()
        session.add(PersonFact(person_id=people["ada"].id, kind="manager", value_int=people["mia"].id,
                               valid_from=today - dt.timedelta(days=30)))
        identities: dict[tuple[int, str], Identity] = {}
        for connection in (tab, signed):
            for member, person in (("m-ada", people["ada"]), ("m-bob", people["bob"]), ("m-ghost", None)):
                identity = Identity(
                    connection_id=connection.id,
                    external_id=member,
                    vendor_key=member.removeprefix("m-"),
                    display_name=member,
                    person_id=person.id if person else None,
                    link_method="manual" if person else None,
                )
                session.add(identity)
                identities[(connection.id, member)] = identity
        session.flush()
        when = in_this_month()
        work = ((identities[(tab.id, "m-ada")], 2, (2.0, 1.5, 2.0)), (identities[(tab.id, "m-bob")], 1, (1.0,)))
        for identity, resolved, hours in work:
            for n in range(resolved):
                session.add(Ticket(
                    connection_id=tab.id, external_id=f"{identity.external_id}-t{n}", number=str(n),
                    summary="printer", status="Resolved", status_category="resolved", closed=True,
                    created_at=when - dt.timedelta(hours=3), resolved_at=when,
                    resolved_by_identity_id=identity.id,
                ))
            for n, h in enumerate(hours):
                session.add(TimeEntry(
                    connection_id=tab.id, external_id=f"{identity.external_id}-e{n}", identity_id=identity.id,
                    start_at=when - dt.timedelta(hours=h), end_at=when, hours=h,
                ))
        users = {
            name: create_user(session, tid, f"{name}@{slug}.example", role, name=name.title(),
                              password=PASSWORD if name == "ada" else None, person_id=people[name].id if name in people else None)
            for name, role in (("ada", "technician"), ("bob", "technician"), ("mia", "manager"), ("root", "admin"))
        }
        return Org(
            tenant_id=tid,
            tab_connection_id=tab.id,
            signed_connection_id=signed.id,
            ada=people["ada"].id,
            bob=people["bob"].id,
            mia=people["mia"].id,
            ada_user=users["ada"].id,
            bob_user=users["bob"].id,
            mia_user=users["mia"].id,
            admin_user=users["root"].id,
            ada_identity=identities[(signed.id, "m-ada")].id,
        )


def user_token(podium: Podium, tenant_id: int, user_id: int, connection_id: int | None = None, **kwargs: Any) -> str:
    """A pod token as a sign-in of this user would get it."""
    from podium.models import User

    with podium.db.session(tenant_id=tenant_id) as session:
        user = session.get(User, user_id)
        grant = grant_for_user(user, connection_id)
    return issue_token(podium, grant, **kwargs).token


def member_token(podium: Podium, org: Org, **kwargs: Any) -> str:
    """A pod token as Ada's verified ``signedpsa`` member would get it."""
    grant = PodGrant(org.tenant_id, org.ada, org.ada_user, org.ada_identity, org.signed_connection_id, "embed")
    return issue_token(podium, grant, **kwargs).token


def pod_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Pod {token}"}
