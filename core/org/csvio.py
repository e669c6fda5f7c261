"""Import and export org data as CSV: all or nothing per file, errors by line and column.

Org data mostly lives in spreadsheets before it lives in Podium, so every kind of org
fact has a CSV form (``podium org import people people.csv``, the REST equivalent in
:mod:`podium.api.org`; the kinds are in :mod:`podium.org.csvkinds`). A file is checked
completely before anything is written: a bad cell, an unknown reference, a duplicate key
or an overlapping validity range is reported as ``line 7, column 'valid_from': …`` and
*nothing* from that file is stored. Rows are matched to what is stored by a natural key
(a person's e-mail, a team's name, (person, team, valid_from) …), so importing the same
file twice changes nothing, and an export can be edited and imported back. Only the
columns a file has are written: a people file without ``time_zone`` leaves everyone's
time zone alone.

Vendors only *suggest* org data; ``export_csv(..., suggested=True)`` writes what
:mod:`podium.org.suggestions` proposes, for an admin to correct and import back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from podium import audit
from podium.models import Tenant, User
from podium.org.csvkinds import KINDS, Key, Kind, Lookups, RowProblem, kind_of
from podium.org.suggestions import suggestions

__all__ = [
    "KINDS",
    "CsvImportError",
    "ImportResult",
    "RowError",
    "export_csv",
    "export_rows",
    "import_csv",
    "import_rows",
    "read_rows",
    "write_csv",
]

# -- errors and results ----------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in a file: the 1-based line (the header is line 1) and column."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.message}"


class CsvImportError(ValueError):
    """A file was refused; ``errors`` lists every problem found. Nothing was stored."""

    def __init__(self, kind: str, errors: Sequence[RowError]) -> None:
        self.kind = kind
        self.errors = list(errors)
        shown = "\n".join(f"  {error}" for error in self.errors[:50])
        more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{kind}: {len(self.errors)} error(s), nothing imported:\n{shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    kind: str
    created: int
    updated: int
    unchanged: int


# -- reading ---------------------------------------------------------------------------


def read_rows(stream: TextIO | str, kind: str = "csv") -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, cells) of each non-blank CSV row."""
    reader = csv.reader(io.StringIO(stream) if isinstance(stream, str) else stream)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvImportError(kind, [RowError(start, None, f"not valid CSV: {exc}")]) from None
        if any(cell.strip() for cell in cells):
            yield start, cells


def import_csv(
    session: Session, kind: str, stream: TextIO | str, *, actor: User | str = "cli", source: str | None = None
) -> ImportResult:
    """Check a whole CSV file of ``kind`` and, only if every row is good, store it.

    Raises :class:`CsvImportError` listing every problem (line, column, reason);
    records an ``org.import`` audit event when anything changed.
    """
    spec = kind_of(kind)
    rows = read_rows(stream, kind)
    first = next(rows, None)
    if first is None:
        raise CsvImportError(kind, [RowError(1, None, "the file is empty; the first line must name the columns")])
    header_line, header = first
    header = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    errors = _check_header(spec, header_line, header)
    if errors:
        raise CsvImportError(kind, errors)
    records = []
    for line, cells in rows:
        if len(cells) > len(header):
            errors.append(RowError(line, None, f"{len(cells)} cells but the header names {len(header)} columns"))
            continue
        records.append((line, {name: cell.strip() for name, cell in zip(header, cells, strict=False)}))
    return _store(session, spec, records, set(header), actor, source, errors)


def import_rows(
    session: Session,
    kind: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    actor: User | str = "system",
    source: str | None = None,
) -> ImportResult:
    """Import rows that are already dicts of text cells (the simulator's org data)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=kind_of(kind).columns)
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return import_csv(session, kind, buffer.getvalue(), actor=actor, source=source)


def _check_header(spec: Kind, line: int, header: list[str]) -> list[RowError]:
    errors = []
    for name in sorted({n for n in header if header.count(n) > 1}):
        errors.append(RowError(line, name, "column appears more than once"))
    for name in header:
        if name not in spec.columns:
            errors.append(RowError(line, name or "(blank)", f"unknown column; expected {', '.join(spec.columns)}"))
    for name, fld in spec.schema().fields.items():
        if fld.required and name not in header:
            errors.append(RowError(line, name, "required column is missing"))
    return errors


def _store(
    session: Session,
    spec: Kind,
    records: list[tuple[int, dict[str, str]]],
    present: set[str],
    actor: User | str,
    source: str | None,
    errors: list[RowError],
) -> ImportResult:
    """Check every row (adding to ``errors``), then store all of them or none."""
    lookups = Lookups(session)
    schema = spec.schema()
    resolved: list[tuple[int, Key, dict[str, Any]]] = []
    seen: dict[Key, int] = {}
    for line, cells in records:
        try:
            row = schema.load({k: v for k, v in cells.items() if v != ""})
        except ValidationError as exc:
            errors.extend(_field_errors(line, exc.messages))
            continue
        try:
            values = spec.resolve(lookups, row, present)
        except RowProblem as problem:
            errors.append(RowError(line, problem.column, str(problem)))
            continue
        key = spec.key(values)
        if key in seen:
            errors.append(RowError(line, spec.columns[0], f"same row as line {seen[key]}"))
            continue
        seen[key] = line
        resolved.append((line, key, values))
    existing = {spec.key_of(obj): obj for obj in spec.stored(session)}
    if not errors and spec.overlap_group:
        errors.extend(_overlaps(spec, resolved, existing))
    if errors:
        raise CsvImportError(spec.name, sorted(errors, key=lambda e: (e.line, e.column or "")))
    created = updated = 0
    for _line, key, values in resolved:
        obj = existing.get(key)
        if obj is None:
            session.add(spec.model(**{**spec.defaults, **values}))
            created += 1
        elif any(getattr(obj, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(obj, name, value)
            updated += 1
    session.flush()
    result = ImportResult(spec.name, created, updated, len(resolved) - created - updated)
    if created or updated:
        tenant = session.get(Tenant, session.info["tenant_id"])
        after = {"kind": spec.name, "created": created, "updated": updated, "source": source}
        audit.record(session, actor, "org.import", tenant, None, after)
    return result


def _field_errors(line: int, messages: Any) -> list[RowError]:
    errors = []
    for column, reasons in messages.items() if isinstance(messages, dict) else [(None, messages)]:
        for reason in reasons if isinstance(reasons, list) else [reasons]:
            errors.append(RowError(line, None if column == "_schema" else column, str(reason)))
    return errors


def _overlaps(spec: Kind, resolved: list[tuple[int, Key, dict[str, Any]]], existing: dict[Key, Any]) -> list[RowError]:
    """Rows of one group (a person's role, a person's membership of a team) must not overlap."""
    assert spec.overlap_group is not None
    spans: dict[Key, dict[Key, tuple[dt.date, dt.date | None, int | None]]] = defaultdict(dict)
    for key, obj in existing.items():
        group = tuple(getattr(obj, name) for name in spec.overlap_group)
        spans[group][key] = (obj.valid_from, obj.valid_to, None)
    for line, key, values in resolved:
        group = tuple(values.get(name) for name in spec.overlap_group)
        old = existing.get(key)
        valid_to = values.get("valid_to", old.valid_to if old is not None else None)
        spans[group][key] = (values["valid_from"], valid_to, line)
    errors = []
    for group_spans in spans.values():
        ordered = sorted(group_spans.values(), key=lambda span: span[0])
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            if earlier[1] is None or earlier[1] > later[0]:
                line = later[2] if later[2] is not None else earlier[2]
                if line is None:
                    continue
                other = earlier if line == later[2] else later
                where = f"line {other[2]}" if other[2] is not None else "a stored row"
                errors.append(RowError(line, "valid_from", f"overlaps the row valid from {other[0]} ({where})"))
    return errors


# -- writing ---------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g") if value != int(value) else str(int(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def export_rows(session: Session, kind: str) -> list[dict[str, str]]:
    """Every stored row of ``kind`` in its CSV shape, sorted (what :func:`export_csv` writes)."""
    spec = kind_of(kind)
    lookups = Lookups(session)
    rows = [{k: _cell(v) for k, v in spec.export(lookups, obj).items()} for obj in spec.stored(session)]
    return sorted(rows, key=spec.order)


def write_csv(kind: str, rows: Iterable[Mapping[str, str]], stream: TextIO) -> int:
    writer = csv.DictWriter(stream, fieldnames=kind_of(kind).columns, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def export_csv(session: Session, kind: str, stream: TextIO, *, suggested: bool = False) -> int:
    """Write ``kind`` as CSV (or, with ``suggested``, the vendor suggestions); returns rows written."""
    rows = suggestions(session, kind) if suggested else export_rows(session, kind)
    return write_csv(kind, rows, stream)
