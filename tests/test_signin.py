"""Sign-in: local accounts, the pod popup hand-off, and OIDC/OAuth with state and PKCE
against a small provider served over a real socket."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from flask import Flask, jsonify, redirect, request
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from podium.auth import create_user
from podium.embed import embed_ref
from podium.podsession import read_token, s256
from podium.runtime import Podium
from podium.web.signin import ProviderConfigError, load_providers

from tests.pods_support import (
    PASSWORD,
    Org,
    pod_headers,
    pod_runtime,
    seed_org,
    web_app,
)
from tests.source_plugin import serve

HOST = "http://127.0.0.1:8765"
CLIENT_ID, CLIENT_SECRET = "podium-client", "provider-client-secret"


# -- a tiny OIDC / OAuth 2 provider ----------------------------------------------------------


class Provider:
    """Authorization code with PKCE (S256 required), an RS256 id_token, userinfo and JWKS.

    ``oidc=False`` behaves like Halo: no discovery document and no id_token, the user's
    e-mail only from the userinfo endpoint. It records every token request it refused.
    """

    def __init__(self, email: str) -> None:
        self.email = email
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.refused: list[dict[str, str]] = []
        self.base = ""

    def app(self) -> Flask:
        app = Flask("provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify({
                "issuer": self.base,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "userinfo_endpoint": f"{self.base}/userinfo",
                "jwks_uri": f"{self.base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            })

        @app.get("/authorize")
        def authorize() -> Any:
            args = request.args
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                return redirect(f"{args['redirect_uri']}?{urlencode({'error': 'invalid_request', 'state': args.get('state', '')})}")
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(args)
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token() -> Any:
            form = request.form
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier")
            if grant is None or verifier is None or s256(verifier) != grant["code_challenge"]:
                self.refused.append(dict(form))
                return jsonify({"error": "invalid_grant", "error_description": "PKCE verification failed"}), 400
            now = int(time.time())
            body: dict[str, Any] = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300}
            if "openid" in grant.get("scope", ""):
                claims = {"iss": self.base, "sub": "u1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                          "nonce": grant.get("nonce"), "email": self.email, "email_verified": True}
                body["id_token"] = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return jsonify(body)

        @app.get("/userinfo")
        def userinfo() -> Any:
            return jsonify({"sub": "u1", "email": self.email})

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": [self.key.as_dict(private=False)]})

        return app


@pytest.fixture
def provider() -> Iterator[Provider]:
    fake = Provider("ada@acme.example")
    with serve(fake.app()) as base:
        fake.base = base
        yield fake


def provider_settings(provider: Provider) -> dict[str, Any]:
    return {
        "acmeid": {"label": "Acme ID", "tenant": "acme", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                   "server_metadata_url": f"{provider.base}/.well-known/openid-configuration"},
        "halo": {"label": "HaloPSA", "tenant": "acme", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                 "scope": "all", "authorize_url": f"{provider.base}/authorize",
                 "access_token_url": f"{provider.base}/token", "userinfo_endpoint": f"{provider.base}/userinfo"},
    }


@pytest.fixture
def podium(database_url: str, tmp_path: Path, provider: Provider) -> Iterator[Podium]:
    runtime = pod_runtime(database_url, tmp_path, oidc_providers=provider_settings(provider))
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def org(podium: Podium) -> Org:
    return seed_org(podium, HOST)


@pytest.fixture
def client(podium: Podium) -> FlaskClient:
    return web_app(podium).test_client()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str, **extra: str) -> Any:
    csrf = csrf_of(client.get("/signin/").get_data(as_text=True))
    return client.post("/signin/", data={"csrf": csrf, "email": email, "password": password, **extra})


def signed_in(client: FlaskClient) -> bool:
    with client.session_transaction() as session:
        return "uid" in session


# -- local accounts --------------------------------------------------------------------------


def test_a_local_account_signs_in_and_out(client: FlaskClient, org: Org) -> None:
    response = sign_in(client, "ADA@acme.example ", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin/done")
    page = client.get("/signin/done")
    assert "signed in as <strong>Ada</strong>" in page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    csrf = csrf_of(page.get_data(as_text=True))
    client.post("/signin/out", data={"csrf": csrf})
    assert not signed_in(client)


@pytest.mark.parametrize(("email", "password"), [("ada@acme.example", "wrong"), ("nobody@acme.example", PASSWORD)])
def test_wrong_credentials_get_one_message(client: FlaskClient, org: Org, email: str, password: str) -> None:
    response = sign_in(client, email, password)
    assert response.status_code == 401
    assert "E-mail or password is wrong." in response.get_data(as_text=True)
    assert not signed_in(client)


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient, org: Org) -> None:
    client.get("/signin/")
    response = client.post("/signin/", data={"email": "ada@acme.example", "password": PASSWORD})
    assert response.status_code == 400 and not signed_in(client)


def test_missing_fields_are_named(client: FlaskClient, org: Org) -> None:
    response = sign_in(client, "", "")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="email-error"' in html and 'id="password-error"' in html


def test_an_email_in_two_organisations_must_name_one(client: FlaskClient, podium: Podium, org: Org) -> None:
    other = seed_org(podium, HOST, slug="globex")
    with podium.db.session(tenant_id=other.tenant_id) as session:
        create_user(session, other.tenant_id, "ada@acme.example", "technician", password="another password")
    response = sign_in(client, "ada@acme.example", PASSWORD)
    assert response.status_code == 422 and 'id="organisation"' in response.get_data(as_text=True)
    assert sign_in(client, "ada@acme.example", PASSWORD, organisation="acme").status_code == 302


# -- the pod popup ---------------------------------------------------------------------------


def popup_code(client: FlaskClient, podium: Podium, org: Org, verifier: str, connection_id: int | None = None) -> str:
    """Run the popup: open it for a pod, sign in (unless already), read the code it hands the opener."""
    ref = embed_ref(podium, connection_id or org.tab_connection_id)
    opened = client.get(f"/signin/?pod={s256(verifier)}&c={ref}")
    if opened.status_code == 200:
        csrf = csrf_of(opened.get_data(as_text=True))
        client.post("/signin/", data={"csrf": csrf, "email": "ada@acme.example", "password": PASSWORD})
    html = client.get("/signin/done").get_data(as_text=True)
    found = re.search(r'data-code="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_the_popup_hands_a_code_that_only_its_pod_can_redeem_once(client: FlaskClient, podium: Podium, org: Org) -> None:
    verifier = secrets.token_urlsafe(48)
    code = popup_code(client, podium, org, verifier)
    wrong = client.post("/pods/-/session/code", json={"code": code, "verifier": secrets.token_urlsafe(48)})
    assert wrong.status_code == 401 and wrong.get_json()["errors"] == {"session": ["bad-code"]}
    assert client.post("/pods/-/session/code", json={"code": code, "verifier": verifier}).status_code == 401, (
        "a refused attempt used the code up")

    verifier = secrets.token_urlsafe(48)
    code = popup_code(client, podium, org, verifier)
    response = client.post("/pods/-/session/code", json={"code": code, "verifier": verifier})
    assert response.status_code == 200
    grant = read_token(podium, response.get_json()["token"])
    assert (grant.user_id, grant.person_id, grant.connection_id, grant.via) == (
        org.ada_user, org.ada, org.tab_connection_id, "signin")
    body = client.get("/pods/whoami/body", headers=pod_headers(response.get_json()["token"]))
    assert "Ada Lovelace" in body.get_data(as_text=True)
    again = client.post("/pods/-/session/code", json={"code": code, "verifier": verifier})
    assert again.status_code == 401


def test_a_signed_in_browser_gets_its_code_without_the_form(client: FlaskClient, podium: Podium, org: Org) -> None:
    sign_in(client, "ada@acme.example", PASSWORD)
    response = client.get(f"/signin/?pod={s256('v' * 43)}&c={embed_ref(podium, org.tab_connection_id)}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin/done")
    assert 'data-code="' in client.get("/signin/done").get_data(as_text=True)


def test_the_popup_refuses_a_pod_of_another_organisation(client: FlaskClient, podium: Podium, org: Org) -> None:
    other = seed_org(podium, HOST, slug="globex")
    sign_in(client, "ada@acme.example", PASSWORD)
    client.get(f"/signin/?pod={s256('v' * 43)}&c={embed_ref(podium, other.tab_connection_id)}")
    response = client.get("/signin/done")
    assert response.status_code == 403 and "another organisation" in response.get_data(as_text=True)
    assert client.get("/signin/?pod=too-short").status_code == 400


def test_code_exchange_input_is_checked(client: FlaskClient) -> None:
    response = client.post("/pods/-/session/code", json={"code": "short"})
    assert response.status_code == 422 and set(response.get_json()["errors"]) == {"code", "verifier"}


# -- OIDC and OAuth with state and PKCE -------------------------------------------------------


def start(client: FlaskClient, name: str) -> dict[str, list[str]]:
    response = client.get(f"/signin/oauth/{name}")
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)


def at_provider(provider: Provider, name: str, client: FlaskClient) -> tuple[str, dict[str, list[str]]]:
    """Follow the redirect to the provider over HTTP; return the callback path and its query."""
    response = client.get(f"/signin/oauth/{name}")
    with httpx.Client() as http:
        answer = http.get(response.headers["Location"])
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    return back.path, parse_qs(back.query)


@pytest.mark.parametrize("name", ["acmeid", "halo"])
def test_the_authorize_request_carries_state_and_an_s256_challenge(client: FlaskClient, org: Org, name: str) -> None:
    query = start(client, name)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43 and query["state"][0]
    assert query["client_id"] == [CLIENT_ID]


@pytest.mark.parametrize("name", ["acmeid", "halo"])
def test_a_provider_sign_in_with_pkce(client: FlaskClient, provider: Provider, org: Org, name: str) -> None:
    path, query = at_provider(provider, name, client)
    response = client.get(f"{path}?{urlencode({k: v[0] for k, v in query.items()})}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin/done"), (
        response.get_data(as_text=True))
    assert provider.refused == []
    assert "signed in as <strong>Ada</strong>" in client.get("/signin/done").get_data(as_text=True)


def test_a_callback_with_another_state_is_refused(client: FlaskClient, provider: Provider, org: Org) -> None:
    path, query = at_provider(provider, "acmeid", client)
    response = client.get(f"{path}?{urlencode({'code': query['code'][0], 'state': 'forged-state'})}")
    assert response.status_code == 400
    assert "Acme ID sign-in was refused (mismatching_state)" in response.get_data(as_text=True)
    assert not signed_in(client)


def test_a_code_redeemed_without_the_pkce_verifier_is_refused(client: FlaskClient, provider: Provider, org: Org) -> None:
    path, query = at_provider(provider, "acmeid", client)
    with client.session_transaction() as session:
        key = next(k for k in session if k.startswith("_state_acmeid_"))
        state = dict(session[key])
        state["data"] = {k: v for k, v in state["data"].items() if k != "code_verifier"}
        session[key] = state
    response = client.get(f"{path}?{urlencode({k: v[0] for k, v in query.items()})}")
    assert response.status_code == 400
    assert "sign-in was refused (invalid_grant)" in response.get_data(as_text=True)
    assert [("code_verifier" in form) for form in provider.refused] == [False]
    assert not signed_in(client)


def test_a_provider_email_without_an_account_is_refused(tmp_path: Path, sqlite_url: str, provider: Provider) -> None:
    provider.email = "stranger@elsewhere.example"
    podium = pod_runtime(sqlite_url, tmp_path, oidc_providers=provider_settings(provider))
    seed_org(podium, HOST)
    client = web_app(podium).test_client()
    path, query = at_provider(provider, "acmeid", client)
    response = client.get(f"{path}?{urlencode({k: v[0] for k, v in query.items()})}")
    assert response.status_code == 403
    assert "no Podium account for stranger@elsewhere.example" in response.get_data(as_text=True)
    podium.db.dispose()


def test_provider_settings_are_validated(tmp_path: Path, sqlite_url: str) -> None:
    bad = {"halo": {"label": "Halo", "tenant": "acme", "client_id": "x", "client_secret": "y",
                    "authorize_url": "https://halo.example/auth/authorize"}}
    with pytest.raises(ProviderConfigError) as error:
        load_providers(pod_runtime(sqlite_url, tmp_path, oidc_providers=bad))
    message = str(error.value)
    assert message.startswith("oidc_providers.halo: ")
    assert "access_token_url: Required when there is no server_metadata_url." in message
    assert "userinfo_endpoint: Required when there is no server_metadata_url." in message
    with pytest.raises(ProviderConfigError, match="not valid JSON"):
        load_providers(pod_runtime(sqlite_url, tmp_path, oidc_providers="{"))

