"""Statement links: the records behind a figure, linked through their data source's ``record_url``."""

from __future__ import annotations

import datetime as dt

import pytest
from podium.connections import create_connection
from podium.models import Ticket
from podium.payouts.links import record_links

from tests.payouts.conftest import World

PSA = '''
from marshmallow import Schema, fields
from podium import hookimpl
from podium.datasource import DataSource

class Config(Schema):
    site = fields.String(required=True)
    api_key = fields.String(required=True, metadata={"secret": True})

class LinkedPsa(DataSource):
    key = "linked_psa"
    label = "A PSA with record links"
    config_schema = Config
    capabilities = {"ticket": frozenset({"summary"})}

    def record_url(self, entity, external_id):
        return f"https://{self.config['site']}/{entity}s/{external_id}" if entity == "ticket" else None

@hookimpl
def podium_register_data_sources(registry):
    registry.add(LinkedPsa)
'''


@pytest.fixture
def plugin_sources() -> dict[str, str]:
    return {"linked_psa": PSA}


def test_records_link_to_the_vendor_through_their_connection(world: World) -> None:
    with world.session() as session:
        connection = create_connection(world.podium, session, world.tenant_id, "linked_psa", "PSA",
                                       {"site": "psa.example", "api_key": "k-123"})
        ticket = Ticket(connection_id=connection.id, external_id="T-77", number="77", summary="Printer",
                        status="Closed", status_category="closed", created_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
        session.add(ticket)
        session.flush()
        links = record_links(session, world.podium, [("ticket", ticket.id), ("ticket", ticket.id + 1000),
                                                     ("capacity_day", 739252)])
    assert links == {f"ticket:{ticket.id}": "https://psa.example/tickets/T-77"}
