"""A stand-in for Manage's web client that hosts pods the way the Hosted API does.

Served by the simulator app under ``/manage/``, on the simulator's own site — another site
than Podium's (``127.0.0.1`` here, ``localhost`` there), as ConnectWise's cloud is:

* ``/manage/`` — a member picker (whom the "signed-in" session belongs to) and links to
  Ticket and Company screens;
* ``/manage/ticket/<id>`` and ``/manage/company/<id>`` — the screen, with every registered
  pod for it in an iframe whose URL has the Hosted API's tokens substituted (``[cw_id]`` →
  the record id, ``[cw_screen]`` → ``ticket`` or ``company``; facts §1.12).

``hostpage.js`` answers the pod's ``postMessage`` protocol as ConnectWise's client does —
JSON strings only, and only from the pod setup's registered origin: ``ready`` →
``{"MessageFrameID"}`` followed by the ``onLoad`` event with the screen object;
``getMemberAuthentication`` → ``{"response":"getmemberauthentication","data":{site,
companyid, memberid, memberHash, memberEmail, memberContext}}`` with the member's hash
from :meth:`WorldStore.member_hash`; ``getScreenObject``; a plain ``request`` key is
ignored. ``?tamper=1`` hands the pod a corrupted hash, to see Podium refuse it.

Pods are registered like Manage's "Manage Hosted API" setup rows (description, screen,
origin, URL, type Pod), kept in the store's meta table: :func:`register_pod`, or
``podium simulate connectwise --pod URL``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import NotFound

from podium.embed import origin_of

from .live import TECHNICIANS
from .params import ListQuery
from .resources import RESOURCES
from .store import WorldStore

SETUPS_META = "hosted_api_setups"
SCREENS = ("ticket", "company")
SCREEN_RESOURCES = {"ticket": "service_tickets", "company": "companies"}
LINKS_PER_SCREEN = 5

bp = Blueprint("hostpage", __name__, url_prefix="/manage", template_folder="templates",
               static_folder="static", static_url_path="/static")


def hosted_setups(store: WorldStore) -> list[dict[str, Any]]:
    """The registered pods, as Manage's ``system/connectwisehostedsetups`` rows."""
    return json.loads(store.meta(SETUPS_META) or "[]")


def register_pod(store: WorldStore, url: str, *, description: str = "Podium", screens: Iterable[str] = SCREENS,
                 height: int = 480) -> list[dict[str, Any]]:
    """Register ``url`` (which may hold ``[cw_id]`` and ``[cw_screen]``) as a pod on ``screens``.

    Registering the same URL for a screen again replaces that row. Returns every setup.
    """
    chosen = tuple(screens)
    unknown = sorted(set(chosen) - set(SCREENS))
    if unknown:
        raise ValueError(f"screens are {', '.join(SCREENS)}, not {', '.join(unknown)}")
    origin = origin_of(url.replace("[cw_id]", "0").replace("[cw_screen]", "ticket"))
    setups = [s for s in hosted_setups(store) if not (s["url"] == url and s["screen"] in chosen)]
    for screen in chosen:
        setups.append({"id": max((s["id"] for s in setups), default=0) + 1, "description": description[:50],
                       "screen": screen, "origin": origin, "url": url, "type": "Pod", "podHeight": height})
    store.set_meta({SETUPS_META: json.dumps(setups)})
    return setups


def _members(store: WorldStore) -> list[dict[str, Any]]:
    rows = store.page(RESOURCES["members"], ListQuery(conditions=TECHNICIANS, page_size=1000))
    return [json.loads(text) for _, text in rows]


def _simulator() -> Any:
    return current_app.extensions["connectwise_simulator"]


@bp.get("/")
def index() -> str:
    store = _simulator().store
    members = _members(store)
    links = {screen: [json.loads(text) for _, text in store.page(
        RESOURCES[SCREEN_RESOURCES[screen]], ListQuery(page_size=LINKS_PER_SCREEN))] for screen in SCREENS}
    return render_template("hostpage_index.html", members=members, member=request.args.get("member", ""),
                           links=links, setups=hosted_setups(store))


@bp.get("/<screen>/<int:record_id>")
def screen_page(screen: str, record_id: int) -> str:
    simulator = _simulator()
    store = simulator.store
    if screen not in SCREENS:
        raise NotFound(f"Manage has no {screen} screen here")
    record = store.get(RESOURCES[SCREEN_RESOURCES[screen]], record_id)
    if record is None:
        raise NotFound(f"{screen} {record_id} was not found")
    members = _members(store)
    chosen = request.args.get("member") or (members[0]["identifier"] if members else "")
    member = store.find_member(chosen)
    if member is None:
        raise NotFound(f"member {chosen!r} was not found")
    member_hash = store.member_hash(member["identifier"]) or ""
    if request.args.get("tamper"):
        member_hash = member_hash[::-1]
    pods = [
        {**setup, "src": setup["url"].replace("[cw_id]", str(record_id)).replace("[cw_screen]", screen),
         "frame_id": f"pod-{setup['id']}"}
        for setup in hosted_setups(store) if setup["screen"] == screen
    ]
    auth = {
        "site": request.host_url, "companyid": simulator.credentials.company_id,
        "memberid": member["identifier"], "memberHash": member_hash,
        "memberEmail": member.get("primaryEmail") or member.get("officeEmail") or "",
        "memberContext": hashlib.sha256(f"context:{member_hash}".encode()).hexdigest()[:32],
    }
    return render_template("hostpage_screen.html", screen=screen, record=record, members=members, member=member,
                           pods=pods, auth=json.dumps(auth), tamper=bool(request.args.get("tamper")))
