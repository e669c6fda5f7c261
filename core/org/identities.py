"""The identity resolver: which vendor account is which person, and whose work counts.

Every connection brings its own accounts (a ConnectWise member, an Autotask resource, a
NinjaOne technician). Work is attributed — and paid — only through a link from such an
:class:`~podium.models.Identity` to a :class:`~podium.models.Person`, made one of two
ways, each leaving an audit event in the same transaction:

* ``email`` — the identity's e-mail (from the vendor's member record, never from a
  browser) equals the e-mail an admin gave exactly one Person; a tie links nothing;
* ``manual`` — an admin confirms the link, with an optional reason.

API and workflow accounts (the member a ConnectWise workflow closes tickets as, an RMM
integration that opens alert tickets) are marked ``is_person = False`` and never linked.
An identity without a link is stored and listed, but :func:`attributable_identities`
leaves it out, so its time and tickets are never credited to anyone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from podium import audit
from podium.models import Identity, Person, User, utcnow

Actor = User | str


class IdentityError(ValueError):
    """A link that must not be made (non-person identity, unknown person)."""


@dataclass
class ResolveReport:
    """What :func:`link_by_email` did: identity ids linked, tied, or without a match."""

    linked: list[tuple[int, int]] = field(default_factory=list)
    """(identity id, person id) pairs linked now."""
    ambiguous: list[int] = field(default_factory=list)
    """Identities whose e-mail belongs to several people: an admin must pick one."""
    unmatched: list[int] = field(default_factory=list)


def _snapshot(identity: Identity) -> dict[str, object]:
    return {"person_id": identity.person_id, "link_method": identity.link_method, "is_person": identity.is_person}


def _set_link(identity: Identity, person_id: int | None, method: str | None, actor: Actor) -> None:
    identity.person_id = person_id
    identity.link_method = method
    identity.linked_at = utcnow() if person_id is not None else None
    identity.linked_by_user_id = actor.id if isinstance(actor, User) and person_id is not None else None


def link_by_email(session: Session, actor: Actor = "system:resolver") -> ResolveReport:
    """Link every unlinked person-identity whose e-mail matches exactly one Person.

    E-mails compare case-insensitively. Identities already linked (by e-mail or by
    hand) are left alone, so running this after every sync is safe and audits nothing new.
    """
    people: dict[str, list[int]] = defaultdict(list)
    for person_id, email in session.execute(select(Person.id, Person.email).where(Person.email.is_not(None))):
        people[email.strip().lower()].append(person_id)
    report = ResolveReport()
    candidates = session.scalars(
        select(Identity)
        .where(Identity.person_id.is_(None), Identity.is_person.is_(True), Identity.email.is_not(None))
        .order_by(Identity.id)
    )
    for identity in candidates:
        matches = people.get((identity.email or "").strip().lower(), [])
        if len(matches) > 1:
            report.ambiguous.append(identity.id)
            continue
        if not matches:
            report.unmatched.append(identity.id)
            continue
        before = _snapshot(identity)
        _set_link(identity, matches[0], "email", actor)
        audit.record(session, actor, "identity.link", identity, before, _snapshot(identity), "e-mail match")
        report.linked.append((identity.id, matches[0]))
    session.flush()
    return report


def _identity(session: Session, identity_id: int) -> Identity:
    identity = session.get(Identity, identity_id)
    if identity is None:
        raise LookupError(f"no identity {identity_id}")
    return identity


def link(session: Session, identity_id: int, person_id: int, actor: Actor, reason: str | None = None) -> Identity:
    """Manually confirm that ``identity_id`` is ``person_id`` (replacing any earlier link)."""
    identity = _identity(session, identity_id)
    if not identity.is_person:
        raise IdentityError(
            f"identity {identity_id} ({identity.display_name}) is an API/workflow account; "
            "mark it as a person before linking it"
        )
    if session.get(Person, person_id) is None:
        raise IdentityError(f"no person {person_id}")
    before = _snapshot(identity)
    _set_link(identity, person_id, "manual", actor)
    audit.record(session, actor, "identity.link", identity, before, _snapshot(identity), reason)
    session.flush()
    return identity


def unlink(session: Session, identity_id: int, actor: Actor, reason: str | None = None) -> Identity:
    """Remove a link: the identity's work stops being attributed from the next recompute."""
    identity = _identity(session, identity_id)
    before = _snapshot(identity)
    _set_link(identity, None, None, actor)
    audit.record(session, actor, "identity.unlink", identity, before, _snapshot(identity), reason)
    session.flush()
    return identity


def set_is_person(
    session: Session, identity_id: int, is_person: bool, actor: Actor, reason: str | None = None
) -> Identity:
    """Mark an identity as a human or as an API/workflow account; the latter loses any link."""
    identity = _identity(session, identity_id)
    before = _snapshot(identity)
    identity.is_person = is_person
    if not is_person:
        _set_link(identity, None, None, actor)
    audit.record(
        session,
        actor,
        "identity.mark_person" if is_person else "identity.mark_non_person",
        identity,
        before,
        _snapshot(identity),
        reason,
    )
    session.flush()
    return identity


def unlinked(session: Session) -> list[Identity]:
    """Person-identities with no link: listed for an admin, never attributed."""
    return list(
        session.scalars(
            select(Identity)
            .where(Identity.person_id.is_(None), Identity.is_person.is_(True))
            .order_by(Identity.connection_id, Identity.id)
        )
    )


def attributable_identities(tenant_id: int | None = None) -> Select[tuple[int, int]]:
    """``SELECT identity_id, person_id`` of every identity whose work counts.

    The metric engine joins work records on it (``time_entries.identity_id =
    attributable.identity_id``) so that unlinked and non-person identities drop out in
    SQL. Pass ``tenant_id`` when the statement runs outside a tenant-scoped session.
    """
    statement = select(Identity.id.label("identity_id"), Identity.person_id.label("person_id")).where(
        Identity.is_person.is_(True), Identity.person_id.is_not(None)
    )
    if tenant_id is not None:
        statement = statement.where(Identity.tenant_id == tenant_id)
    return statement


def attributable_identity_ids(session: Session) -> dict[int, int]:
    """Identity id → person id for every identity whose work counts (see above)."""
    return {identity_id: person_id for identity_id, person_id in session.execute(attributable_identities())}
