"""Org data Podium owns: who is on which team when, roles, capacity, pay, client
responsibility, calendars, availability, mappings, and which vendor identity is whom.

Vendors only *suggest* this data (ConnectWise teams are per board and current-only,
NinjaOne has none), so Podium keeps it effective-dated and importable (design §4):

* :mod:`podium.org.effective` — "as of date X" queries and timeline edits;
* :mod:`podium.org.calendars` — business hours, holidays, DST-correct business time,
  fiscal-year and week helpers;
* :mod:`podium.org.csvio` — all-or-nothing CSV import/export with line+column errors;
* :mod:`podium.org.identities` — the audited resolver that links vendor identities to
  people, and the attribution rule the metric engine joins on;
* :mod:`podium.org.changes` — any committed org change queues a metrics refresh.
"""
