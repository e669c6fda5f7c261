"""Revenue and its targets: agreements, invoices, payments and budgets.

Every amount is an integer in minor units next to its currency (design §4): floats
lose cents, and one plan pays in one currency, so mixing is refused, never converted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, ExternalRecord, TenantScoped, id_column, ref_column


class Agreement(ExternalRecord, Base):
    """A recurring revenue line (managed services, backup …) with its monthly price and
    cost, dated so that revenue can be prorated into any period."""

    __tablename__ = "agreements"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="effective_range"),
    )

    id: Mapped[int] = id_column()
    client_id: Mapped[int] = ref_column("clients.id", index=True)
    name: Mapped[str] = mapped_column(String(200))
    agreement_type: Mapped[str] = mapped_column(String(200))
    """The vendor's type; the ``agreement_type`` Mapping turns it into ``category``."""
    category: Mapped[str | None] = mapped_column(String(64))
    monthly_price_minor: Mapped[int] = mapped_column(BigInteger)
    monthly_cost_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[dt.date]
    effective_to: Mapped[dt.date | None]
    cancelled_at: Mapped[dt.date | None]
    vendor_updated_at: Mapped[dt.datetime | None]


class Invoice(ExternalRecord, Base):
    """An invoice, for billed revenue and days-to-pay metrics."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_invoices_tenant_invoice_date", "tenant_id", "invoice_date"),
    )

    id: Mapped[int] = id_column()
    client_id: Mapped[int] = ref_column("clients.id", index=True)
    number: Mapped[str] = mapped_column(String(64))
    invoice_date: Mapped[dt.date]
    due_date: Mapped[dt.date | None]
    total_minor: Mapped[int] = mapped_column(BigInteger)
    """Negative for a credit note."""
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[dt.datetime | None]
    vendor_updated_at: Mapped[dt.datetime | None]


class Payment(ExternalRecord, Base):
    """A payment against an invoice (partial payments are several rows)."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[int] = id_column()
    invoice_id: Mapped[int] = ref_column("invoices.id", index=True)
    paid_at: Mapped[dt.datetime]
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class Budget(TenantScoped, Base):
    """A target for a period and line (gross margin, project billables …) that metrics
    report attainment against; money targets in minor units, others in ``target_num``."""

    __tablename__ = "budgets"
    __table_args__ = (
        Index("ix_budgets_tenant_line_period_start", "tenant_id", "line", "period_start"),
        CheckConstraint("period_end > period_start", name="period_range"),
    )

    id: Mapped[int] = id_column()
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    """Exclusive, like every Podium period end."""
    line: Mapped[str] = mapped_column(String(64))
    target_minor: Mapped[int | None] = mapped_column(BigInteger)
    target_num: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
