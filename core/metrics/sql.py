"""SQL expressions that mean the same on SQLite and PostgreSQL.

Metrics do their arithmetic on times in the database. The two backends store and
subtract times differently (SQLite keeps UTC text, PostgreSQL ``timestamptz``), so the
few operations metrics need are defined once here and compiled per dialect:

* :class:`epoch` — whole seconds since 1970 (fractions dropped on both), so durations
  are integer arithmetic and give identical results;
* :class:`utc_day` — the UTC calendar date of an instant;
* :class:`day_diff` — days from one date to another;
* :func:`least` / :func:`greatest` — of several values, ignoring NULLs (PostgreSQL's
  ``LEAST``; SQLite's scalar ``min`` would return NULL for any NULL argument).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Date, Float, Integer, cast, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class epoch(FunctionElement[int]):  # noqa: N801 - reads like the SQL function it is
    """Whole seconds since 1970-01-01 UTC of a stored instant."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


class utc_day(FunctionElement[Any]):  # noqa: N801
    """The UTC date of a stored instant."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


class day_diff(FunctionElement[int]):  # noqa: N801
    """``day_diff(a, b)``: whole days from date ``a`` to date ``b`` (``b - a``)."""

    type = Integer()
    inherit_cache = True
    name = "day_diff"


@compiles(day_diff, "sqlite")
def _day_diff_sqlite(element: day_diff, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(julianday({b}) - julianday({a}) AS INTEGER)"


@compiles(day_diff, "postgresql")
def _day_diff_postgresql(element: day_diff, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({b} - {a})"


class _extreme(FunctionElement[Any]):  # noqa: N801
    inherit_cache = True
    postgres_name = ""
    sqlite_name = ""


class _least(_extreme):  # noqa: N801
    inherit_cache = True
    name = "least"
    postgres_name = "LEAST"
    sqlite_name = "min"


class _greatest(_extreme):  # noqa: N801
    inherit_cache = True
    name = "greatest"
    postgres_name = "GREATEST"
    sqlite_name = "max"


@compiles(_least, "postgresql")
@compiles(_greatest, "postgresql")
def _extreme_postgresql(element: _extreme, compiler: Any, **kw: Any) -> str:
    return f"{element.postgres_name}({compiler.process(element.clauses, **kw)})"


@compiles(_least, "sqlite")
@compiles(_greatest, "sqlite")
def _extreme_sqlite(element: _extreme, compiler: Any, **kw: Any) -> str:
    # Each NULL argument is replaced by some non-NULL one, so it cannot win or poison
    # the result; only when every argument is NULL is the result NULL.
    args = [compiler.process(clause, **kw) for clause in element.clauses]
    if len(args) == 1:
        return args[0]
    anyone = f"coalesce({', '.join(args)})"
    return f"{element.sqlite_name}({', '.join(f'coalesce({arg}, {anyone})' for arg in args)})"


def least(*values: ColumnElement[Any]) -> ColumnElement[Any]:
    """The smallest non-NULL value (NULL only when all are NULL), typed like the first."""
    return type_coerce(_least(*values), values[0].type)


def greatest(*values: ColumnElement[Any]) -> ColumnElement[Any]:
    """The largest non-NULL value (NULL only when all are NULL), typed like the first."""
    return type_coerce(_greatest(*values), values[0].type)


def as_float(value: Any) -> ColumnElement[float]:
    """``value`` as a floating-point SQL number (integer division stays out of sums)."""
    return cast(value, Float)
