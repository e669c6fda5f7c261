"""Documentation: root-cause analyses recorded on the tickets that need one.

Which tickets need a root cause is the MSP's policy, so it is a parameter: by default
tickets of type "Problem" (the PSA's problem records: ConnectWise and Autotask problem
tickets, Halo problems), optionally also tickets of given priorities (major incidents).
Of those, first resolved in the period (ticket conventions: :mod:`.tickets`) and in
scope, the share with a documented root cause — ``Ticket.root_cause_documented_at`` set,
at any time: writing the analysis up after the ticket closed still counts, and moves the
figure of the period the ticket was resolved in. Credit goes to the resolver (else the
owner), who is expected to write it.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import case, or_, select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.resolution import TICKET_FIELDS
from podium.metrics.builtin.tickets import first_resolutions, resolver
from podium.metrics.tables import Tables


class RcaParams(Schema):
    ticket_types = fields.List(fields.String(), load_default=lambda: ["Problem"],
                               metadata={"description": "Ticket types that need a root-cause analysis."})
    priorities = fields.List(fields.String(), load_default=list,
                             metadata={"description": "Ticket priorities that need one too (e.g. a P1 major "
                                                      "incident); empty: none by priority."})


class RcaDocumented(Metric):
    """Qualifying tickets first resolved in the period with a root cause documented ÷ all of them."""

    key = "rca_documented_pct"
    label = "Root cause documented"
    unit = "percent"
    better = "higher"
    requires = {"ticket": TICKET_FIELDS | {"type", "priority", "root_cause_documented_at"}}
    anchor = "first resolution"
    params_schema = RcaParams

    def select(self, tables: Tables) -> Any:
        t, fr = tables.tickets, first_resolutions(tables)
        qualifies = [t.c.type.in_(list(self.params["ticket_types"]))]
        if self.params["priorities"]:
            qualifies.append(t.c.priority.in_(list(self.params["priorities"])))
        documented = case((t.c.root_cause_documented_at.is_not(None), 1.0), else_=0.0)
        return (
            select(*row(person_id=resolver(tables, t), client_id=t.c.client_id, anchored_at=fr.c.resolved_at,
                        numerator=documented, denominator=1.0, record_type="ticket", record_id=t.c.id))
            .join_from(t, fr, fr.c.ticket_id == t.c.id)
            .where(or_(*qualifies))
        )
