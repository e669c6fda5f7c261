"""``/api/v1/tenant``: the caller's own tenant and its calendar settings.

There is no list of tenants here: a token belongs to exactly one tenant, and creating
tenants is an operator's job (``podium tenants create``), not a tenant admin's.
"""

from __future__ import annotations

from typing import Any

from podium.api import ApiView, Blueprint, dump
from podium.audit import record
from podium.auth import current_tenant, current_user, require_role, tenant_session
from podium.models import Tenant
from podium.schemas.api import TenantSchema, TenantSettingsSchema

blp = Blueprint("tenant", __name__, url_prefix="/api/v1", description="The caller's tenant and its settings.")


@blp.route("/tenant")
class CurrentTenant(ApiView):
    @blp.response(200, TenantSchema)
    def get(self) -> Tenant:
        """The tenant the token belongs to."""
        return current_tenant()

    @require_role("admin")
    @blp.arguments(TenantSettingsSchema)
    @blp.response(200, TenantSchema)
    def patch(self, changes: dict[str, Any]) -> Tenant:
        """Change the name, time zone, fiscal-year start month, week start or currency."""
        tenant = current_tenant()
        before = dump(TenantSchema, tenant)
        for name, value in changes.items():
            setattr(tenant, name, value)
        record(tenant_session(), current_user(), "tenant.update", tenant, before, dump(TenantSchema, tenant))
        return tenant
