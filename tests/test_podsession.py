"""Pod sessions: tokens, one-use tickets, the request guard, access rules and the embed
contract, through the real app on SQLite and PostgreSQL (and real Redis for tickets)."""

from __future__ import annotations

import importlib.metadata
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from podium.embed import embed_ref, frame_ancestors, origin_of, pod_url
from podium.models import Identity, User
from podium.podsession import (
    DbTicketStore,
    PodTokenError,
    RedisTicketStore,
    _redis,
    issue_token,
    read_token,
    s256,
)
from podium.runtime import Podium
from sqlalchemy import update

from tests.pods_support import (
    Org,
    member_token,
    pod_headers,
    pod_runtime,
    seed_org,
    sign,
    user_token,
    web_app,
)

HOST = "http://127.0.0.1:8765"


@pytest.fixture
def podium(database_url: str, tmp_path: Path) -> Iterator[Podium]:
    runtime = pod_runtime(database_url, tmp_path)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def org(podium: Podium) -> Org:
    return seed_org(podium, HOST)


@pytest.fixture
def app(podium: Podium) -> Flask:
    return web_app(podium)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def refusal(response, status: int) -> tuple[str, str]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    return body["errors"]["session"][0], body["message"]


# -- tokens ------------------------------------------------------------------------------


def test_the_built_in_pod_plugins_have_entry_points(podium: Podium) -> None:
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="podium")}
    assert points.get("whoami") == "podium.web.whoami", "setup.cfg needs `whoami = podium.web.whoami` under podium"
    assert points.get("live") == "podium.live", "setup.cfg needs `live = podium.live` under podium"
    assert podium.plugins.pods.owner("whoami") == "whoami"


def test_a_token_carries_its_grant_and_nothing_else_verifies(podium: Podium, org: Org) -> None:
    token = member_token(podium, org)
    grant = read_token(podium, token)
    assert (grant.tenant_id, grant.person_id, grant.identity_id, grant.connection_id, grant.via) == (
        org.tenant_id, org.ada, org.ada_identity, org.signed_connection_id, "embed")

    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    other_secret = Podium.from_env(instance_path=podium.config.instance_path, database_url=podium.config.database_url,
                                   secret_key="another-instance-secret")
    for bad in (f"{header}.{payload}.{flipped}", f"{header}.{forged_payload}.{signature}", "not-a-token",
                issue_token(other_secret, grant).token):
        with pytest.raises(PodTokenError) as refused:
            read_token(podium, bad)
        assert refused.value.reason == "invalid"

    expired = member_token(podium, org, now=int(time.time()) - 3600)
    with pytest.raises(PodTokenError) as refused:
        read_token(podium, expired)
    assert refused.value.reason == "expired"


def test_the_body_needs_a_valid_token(client: FlaskClient, podium: Podium, org: Org) -> None:
    assert refusal(client.get("/pods/whoami/body"), 401)[0] == "missing"
    response = client.get("/pods/whoami/body", headers={"Authorization": "Bearer " + member_token(podium, org)})
    assert refusal(response, 401)[0] == "missing", "only the Pod scheme is a pod session"
    token = member_token(podium, org)
    tampered = token[:-3] + ("xyz" if token[-3:] != "xyz" else "abc")
    reason, message = refusal(client.get("/pods/whoami/body", headers=pod_headers(tampered)), 401)
    assert (reason, message) == ("invalid", "The pod session token is not valid.")
    expired = member_token(podium, org, now=int(time.time()) - 3600)
    response = client.get("/pods/whoami/body", headers=pod_headers(expired))
    assert refusal(response, 401) == ("expired", "Your pod session has expired; sign in again.")
    assert response.headers["WWW-Authenticate"].startswith("Pod ")


def test_whoami_shows_the_viewer_and_their_counts(client: FlaskClient, podium: Podium, org: Org) -> None:
    response = client.get("/pods/whoami/body", headers=pod_headers(member_token(podium, org)))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Ada Lovelace" in html
    assert '<dd id="count-tickets-resolved">2</dd>' in html
    assert '<dd id="count-time-entries">3</dd>' in html
    assert '<dd id="count-hours">5.5</dd>' in html
    assert response.headers["Cache-Control"] == "no-store"
    again = client.get("/pods/whoami/body", headers={**pod_headers(member_token(podium, org)),
                                                      "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


def test_a_technician_sees_only_themself(client: FlaskClient, podium: Podium, org: Org) -> None:
    ada = pod_headers(user_token(podium, org.tenant_id, org.ada_user))
    assert client.get(f"/pods/whoami/body?person={org.ada}", headers=ada).status_code == 200
    reason, message = refusal(client.get(f"/pods/whoami/body?person={org.bob}", headers=ada), 403)
    assert (reason, message) == ("forbidden", "You may only see your own figures here.")
    assert refusal(client.get("/pods/whoami/body?person=99999", headers=ada), 403)[0] == "forbidden"
    assert refusal(client.get("/pods/whoami/body?person=bob", headers=ada), 422)[0] == "invalid-input"


def test_a_manager_sees_their_reports_and_an_admin_everyone(client: FlaskClient, podium: Podium, org: Org) -> None:
    mia = pod_headers(user_token(podium, org.tenant_id, org.mia_user))
    response = client.get(f"/pods/whoami/body?person={org.ada}", headers=mia)
    assert response.status_code == 200 and "Ada Lovelace" in response.get_data(as_text=True)
    assert "Viewed by Mia Hamm (manager)" in response.get_data(as_text=True)
    assert refusal(client.get(f"/pods/whoami/body?person={org.bob}", headers=mia), 403)[0] == "forbidden"
    root = pod_headers(user_token(podium, org.tenant_id, org.admin_user))
    assert "Bob Page" in client.get(f"/pods/whoami/body?person={org.bob}", headers=root).get_data(as_text=True)


def test_another_tenants_person_is_not_visible_even_to_an_admin(client: FlaskClient, podium: Podium, org: Org) -> None:
    other = seed_org(podium, HOST, slug="globex")
    root = pod_headers(user_token(podium, org.tenant_id, org.admin_user))
    assert refusal(client.get(f"/pods/whoami/body?person={other.ada}", headers=root), 403)[0] == "forbidden"


def test_the_viewer_is_reloaded_on_every_request(client: FlaskClient, podium: Podium, org: Org) -> None:
    ada_user = pod_headers(user_token(podium, org.tenant_id, org.ada_user))
    member = pod_headers(member_token(podium, org))
    with podium.db.session() as session:
        session.execute(update(Identity).where(Identity.id == org.ada_identity).values(person_id=org.bob))
    assert refusal(client.get("/pods/whoami/body", headers=member), 401)[0] == "revoked"
    assert client.get("/pods/whoami/body", headers=ada_user).status_code == 200
    with podium.db.session() as session:
        session.execute(update(User).where(User.id == org.ada_user).values(active=False))
    assert refusal(client.get("/pods/whoami/body", headers=ada_user), 401)[0] == "revoked"
    assert refusal(client.post("/pods/-/session/refresh", headers=ada_user), 401)[0] == "revoked"


def test_refresh_issues_a_new_token_for_a_live_session(client: FlaskClient, podium: Podium, org: Org) -> None:
    response = client.post("/pods/-/session/refresh", headers=pod_headers(member_token(podium, org)))
    assert response.status_code == 200
    issued = response.get_json()
    assert issued["token_type"] == "Pod" and issued["expires_in"] == 600
    assert client.get("/pods/whoami/body", headers=pod_headers(issued["token"])).status_code == 200
    expired = member_token(podium, org, now=int(time.time()) - 3600)
    assert refusal(client.post("/pods/-/session/refresh", headers=pod_headers(expired)), 401)[0] == "expired"


# -- one-use tickets ---------------------------------------------------------------------


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, podium: Podium) -> DbTicketStore | RedisTicketStore:
    if request.param == "database":
        return DbTicketStore(podium)
    return RedisTicketStore(_redis(request.getfixturevalue("redis_url")))


def test_a_ticket_works_once_for_its_purpose(store: DbTicketStore | RedisTicketStore, org: Org) -> None:
    ticket = store.issue("stream", org.tenant_id, {"channels": ["a"]}, 30)
    assert store.redeem("signin-code", ticket) is None, "a ticket opens only what it was issued for"
    assert store.redeem("stream", ticket) == {"channels": ["a"]}
    assert store.redeem("stream", ticket) is None
    assert store.redeem("stream", "made-up") is None


def test_a_ticket_expires(store: DbTicketStore | RedisTicketStore, org: Org) -> None:
    ticket = store.issue("stream", org.tenant_id, {}, 0.05)
    time.sleep(0.1)
    assert store.redeem("stream", ticket) is None


def test_two_redemptions_at_once_get_one_ticket(store: DbTicketStore | RedisTicketStore, org: Org) -> None:
    ticket = store.issue("stream", org.tenant_id, {"n": 1}, 30)
    results: list[object] = []
    start = threading.Barrier(4)

    def redeem() -> None:
        start.wait()
        results.append(store.redeem("stream", ticket))

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) == ["None", "None", "None", "{'n': 1}"]


def test_s256_matches_rfc_7636_appendix_b() -> None:
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


# -- the shell and the embed contract ----------------------------------------------------


def test_the_shell_limits_framing_to_the_connections_site(client: FlaskClient, podium: Podium, org: Org) -> None:
    url = pod_url(podium, org.tab_connection_id, "whoami")
    response = client.get(url.removeprefix(podium.config.base_url))
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert policy.endswith(f"frame-ancestors {HOST}")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = response.get_data(as_text=True)
    assert 'data-handshake="signin"' in html and f'data-parent-origins="{HOST}"' in html
    assert "Ada" not in html, "the shell holds no data"

    plain = client.get("/pods/whoami")
    assert plain.headers["Content-Security-Policy"].endswith("frame-ancestors 'self'")
    forged = embed_ref(podium, org.tab_connection_id)[:-2] + "xx"
    assert client.get(f"/pods/whoami?c={forged}").status_code == 404
    assert client.get("/pods/no-such-pod").status_code == 404


def test_a_signing_vendor_gets_its_handshake_script(client: FlaskClient, podium: Podium, org: Org) -> None:
    page = client.get(f"/pods/whoami?c={embed_ref(podium, org.signed_connection_id)}").get_data(as_text=True)
    assert 'data-handshake="vendor"' in page and 'src="/pods/-/embed/signedpsa.js"' in page
    script = client.get("/pods/-/embed/signedpsa.js")
    assert script.mimetype == "text/javascript" and "registerHandshake" in script.get_data(as_text=True)
    assert client.get("/pods/-/embed/tabpsa.js").status_code == 404


def exchange(client: FlaskClient, podium: Podium, org: Org, member: str, signature: str, origin: str = HOST):
    return client.post("/pods/-/session/embed", json={
        "ref": embed_ref(podium, org.signed_connection_id),
        "origin": origin,
        "claims": {"member": member, "signature": signature},
    })


def test_a_verified_member_gets_a_pod_token_for_their_person(client: FlaskClient, podium: Podium, org: Org) -> None:
    response = exchange(client, podium, org, "m-ada", sign("m-ada"))
    assert response.status_code == 200, response.get_data(as_text=True)
    grant = read_token(podium, response.get_json()["token"])
    assert (grant.person_id, grant.identity_id, grant.user_id, grant.via) == (
        org.ada, org.ada_identity, org.ada_user, "embed")
    body = client.get("/pods/whoami/body", headers=pod_headers(response.get_json()["token"]))
    assert "Ada Lovelace" in body.get_data(as_text=True)


@pytest.mark.parametrize(
    ("member", "signature_of", "origin", "status", "reason"),
    [
        ("m-ada", "m-bob", HOST, 403, "tampered"),
        ("m-ada", "m-ada", "http://evil.example", 403, "wrong-origin"),
        ("m-ada", "m-ada", "null", 403, "wrong-origin"),
        ("m-nobody", "m-nobody", HOST, 403, "unknown-member"),
        ("m-ghost", "m-ghost", HOST, 403, "unlinked-member"),
    ],
)
def test_a_handshake_that_does_not_hold_is_refused(
    client: FlaskClient, podium: Podium, org: Org, member: str, signature_of: str, origin: str, status: int, reason: str
) -> None:
    response = exchange(client, podium, org, member, sign(signature_of), origin)
    assert refusal(response, status)[0] == reason


def test_embed_exchange_input_is_checked(client: FlaskClient, podium: Podium, org: Org) -> None:
    response = client.post("/pods/-/session/embed", json={"ref": "x"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"origin", "claims"}
    response = client.post("/pods/-/session/embed", json={"ref": "x", "origin": HOST, "claims": {}})
    assert refusal(response, 404)[0] == "bad-ref"
    tab = client.post("/pods/-/session/embed", json={
        "ref": embed_ref(podium, org.tab_connection_id), "origin": HOST, "claims": {}})
    assert refusal(tab, 400)[0] == "no-handshake"


def test_origins_are_compared_in_their_normal_form() -> None:
    assert origin_of("HTTPS://NA.MyConnectWise.net:443/v4_6_release/") == "https://na.myconnectwise.net"
    assert origin_of("http://127.0.0.1:8080/x?y") == "http://127.0.0.1:8080"
    with pytest.raises(ValueError):
        origin_of("javascript:alert(1)")
    assert frame_ancestors(["https://a.example", "https://b.example"]) == (
        "frame-ancestors https://a.example https://b.example")
