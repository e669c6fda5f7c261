"""The connection config and ``test_connection()``: one specific message per failure.

Every check talks to the real simulator over a socket (or to a port nobody listens
on); the configs go through the connector's marshmallow schema as an admin's would.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import pytest
from marshmallow import ValidationError
from podium.connections import describe, run_test
from podium.crypto import MASK
from podium.errors import ConnectionTestError
from podium.models import Connection
from podium.runtime import Podium
from podium.sync import source_context
from podium_connectwise.connector import ConnectWiseManage
from podium_connectwise.schema import ConnectWiseConfigSchema

from tests.connectwise.live import CODEBASE, Live

GUID = "0b5c4f1e-2d3a-4b6c-8d7e-9f0a1b2c3d4e"

if TYPE_CHECKING:
    from tests.connectwise.conftest_connector import Kit

pytest_plugins = ("tests.connectwise.conftest_connector",)
"""The connector's fixtures (tests/connectwise/conftest.py belongs to the simulator's tests)."""


def valid(**changes: Any) -> dict[str, Any]:
    return {"site": "na.myconnectwise.net", "company_id": "acme", "public_key": "pub", "private_key": "priv",
            "client_id": GUID, **changes}


# -- the config schema -------------------------------------------------------------------


@pytest.mark.parametrize(("site", "url"), [
    ("na.myconnectwise.net", "https://api-na.myconnectwise.net"),
    ("https://EU.myconnectwise.net/", "https://api-eu.myconnectwise.net"),
    ("api-au.myconnectwise.net", "https://api-au.myconnectwise.net"),
    ("cw.example.com:8443", "https://cw.example.com:8443"),
])
def test_the_site_becomes_the_api_host(cw: Kit, site: str, url: str) -> None:
    assert ConnectWiseConfigSchema().load(valid(site=site))["site"] == url


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"site": "ftp://cw.example.com"}, "site", "https://"),
    ({"site": "https://cw.example.com/v4_6_release/apis/3.0"}, "site", "only the host"),
    ({"site": "http://cw.example.com"}, "site", "unencrypted"),
    ({"client_id": "my-integration"}, "client_id", "GUID"),
    ({"company_id": "acme corp"}, "company_id", "no spaces"),
    ({"codebase": "apis/3.0/x y"}, "codebase", "v4_6_release"),
    ({"survey_attribution": "whoever"}, "survey_attribution", "Must be one of"),
    ({"tier_teams": {"Help Desk": 0}}, "tier_teams", "greater than or equal to 1"),
    ({"private_key": ""}, "private_key", "between 1 and 200"),
])
def test_bad_config_names_the_field_and_the_reason(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ConnectWiseConfigSchema().load(valid(**changes))
    assert field in caught.value.messages
    assert words.lower() in str(caught.value.messages[field]).lower()


def test_plain_http_only_when_allowed_and_the_codebase_is_normalised() -> None:
    config = ConnectWiseConfigSchema().load(valid(site="http://127.0.0.1:8080", allow_http=True, codebase="/v2025_1"))
    assert config["site"] == "http://127.0.0.1:8080" and config["codebase"] == "v2025_1/"
    assert ConnectWiseConfigSchema().load(valid(codebase=""))["codebase"] is None


def test_only_the_private_key_is_secret() -> None:
    assert ConnectWiseManage.secret_fields() == frozenset({"private_key"})


# -- test_connection -----------------------------------------------------------------------


def check(cw: Kit, podium: Podium, tenant_id: int, config: dict[str, Any]) -> tuple[bool, str, str]:
    """(ok, message, connection status) of ``podium connections test``'s path: run_test with a sync context."""
    connection_id = cw.connection(podium, tenant_id, config)
    with podium.db.session(tenant_id) as session:
        connection = session.get(Connection, connection_id)
    # As the CLI does it: no transaction is open while the vendor is called.
    context = source_context(podium, connection)
    try:
        ok, message = run_test(podium, connection, context)
    finally:
        context.close()
    assert describe(podium, connection)["config"]["private_key"] == MASK
    return ok, message, connection.status


def test_a_good_connection_names_the_company_and_codebase(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live
) -> None:
    ok, message, status = check(cw, cw_podium, cw_tenant, cw.config(cw_live))
    assert ok and status == "ok"
    assert "Summit Ridge IT" in message and CODEBASE in message


def test_an_unknown_company_id_fails_codebase_discovery(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live
) -> None:
    ok, message, status = check(cw, cw_podium, cw_tenant, cw.config(cw_live, company_id="someoneelse"))
    assert not ok and status == "failing"
    assert "company id 'someoneelse'" in message and "codebase discovery" in message


def test_wrong_keys_are_refused_without_revealing_them(
    cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live
) -> None:
    wrong = "Wrong-Private-Key-123"
    ok, message, _ = check(cw, cw_podium, cw_tenant, cw.config(cw_live, private_key=wrong))
    assert not ok and "refused the API keys" in message and "UserNotAuthenticated" in message
    assert wrong not in message
    ok, message, _ = check(cw, cw_podium, cw_tenant, cw.config(cw_live, public_key="SomeoneElsesKey"))
    assert not ok and "refused the API keys" in message


def test_an_unregistered_client_id_is_named(cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live) -> None:
    ok, message, _ = check(cw, cw_podium, cw_tenant, cw.config(cw_live, client_id=GUID))
    assert not ok and "refused the client id" in message and "developer.connectwise.com" in message


def test_a_wrong_configured_codebase_is_named(cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live) -> None:
    ok, message, _ = check(cw, cw_podium, cw_tenant, cw.config(cw_live, codebase="v2019_1/"))
    assert not ok and "no ConnectWise API at codebase 'v2019_1/'" in message


def test_an_unreachable_site_says_so(cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ok, message, _ = check(cw, cw_podium, cw_tenant, cw.config(cw_live, site=f"http://127.0.0.1:{port}"))
    assert not ok and message.startswith(f"cannot reach http://127.0.0.1:{port}")


def test_the_api_path_without_a_sync_context_works_too(cw: Kit, cw_live: Live) -> None:
    assert "Summit Ridge IT" in cw.source(cw_live).test_connection()


def test_plain_http_is_refused_unless_allowed(cw: Kit, cw_live: Live) -> None:
    config = ConnectWiseConfigSchema().load(cw.config(cw_live)) | {"allow_http": False}
    with pytest.raises(ConnectionTestError, match="plain http"):
        ConnectWiseManage(config).test_connection()


def test_the_codebase_can_be_given_instead_of_discovered(cw: Kit, cw_live: Live) -> None:
    source = cw.source(cw_live, codebase=CODEBASE)
    assert CODEBASE in source.test_connection()
    assert source.api.calls == 1  # the probe only: no discovery request
