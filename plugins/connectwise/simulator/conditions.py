"""ConnectWise ``conditions``: parsed, type-checked against the resource, compiled to SQL.

The grammar is the one the Developer Guide documents (facts §1.3) and working clients
use: ``field op value`` comparisons joined by ``and``/``or`` (any case, ``and`` binding
tighter, as in the SQL ConnectWise translates them to) and grouped by parentheses.

* values: strings in double or single quotes (ConnectWise's own ``_info`` links write
  ``chargeToType='ServiceTicket'``; rapid7/insightconnect-plugins' ConnectWise help shows
  them), bare integers and decimals, ``True``/``False``, ``null``, datetimes in square
  brackets (``[2016-08-20T18:04:26Z]``, ``[2024-01-01]``);
* operators: ``= != < <= > >=``, ``contains``, ``like`` (``%`` or ``*`` as the wildcard),
  ``in (a, b)``, and ``not contains``, ``not like``, ``not in``;
* fields: the resource's own names, references with ``/`` (``board/id``,
  ``owner/identifier``), and ``lastUpdated``/``dateEntered`` for the ``_info`` stamps.

Text comparisons ignore case, as ConnectWise's SQL Server collation does; a comparison
with an empty field does not match (SQL's three-valued logic), except ``= null``.
Anything else — an unknown field, a string compared with a number, a bracketless date,
an unbalanced parenthesis — raises :class:`~.errors.ApiError` (400) naming the field and
the reason, so a connector never mistakes an unsupported filter for an empty result.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_

from .errors import ApiError, bad_request
from .resources import Field, Kind, Resource

Column = Callable[[Field], ColumnElement[Any]]

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<bracket>\[[^\]]*\])
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)

_KEYWORDS = frozenset({"and", "or", "not", "contains", "like", "in", "true", "false", "null"})
_TEXT_ONLY = frozenset({"contains", "like", "not contains", "not like"})
_ORDERING = frozenset({"<", "<=", ">", ">="})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Value:
    """A literal as written: ``kind`` is string, number, bool, null or datetime."""

    kind: str
    raw: Any


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    values: tuple[Value, ...]
    pos: int


@dataclass(frozen=True)
class Logical:
    op: str
    items: tuple[Node, ...]


Node = Comparison | Logical


def error(message: str, field_name: str | None = None) -> ApiError:
    return bad_request(message, resource="conditions", field_name=field_name)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            snippet = text[pos:pos + 12]
            if snippet[:1] in "\"'":
                raise error(f"unterminated string starting at position {pos + 1}: {snippet}")
            if snippet[:1] == "[":
                raise error(f"unterminated [datetime] starting at position {pos + 1}")
            raise error(f"unexpected {snippet!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos + 1))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens: or-expression of and-expressions of factors."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise error("conditions is empty")
        node = self.expression()
        if self.i < len(self.tokens):
            token = self.tokens[self.i]
            if token.kind == "rparen":
                raise error(f"unbalanced ')' at position {token.pos}")
            raise error(f"expected AND or OR at position {token.pos}, found {token.text!r}")
        return node

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise error("conditions ends too early")
        self.i += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.lower() in words

    def expression(self) -> Node:
        items = [self.conjunction()]
        while self.keyword("or"):
            self.i += 1
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Logical("or", tuple(items))

    def conjunction(self) -> Node:
        items = [self.factor()]
        while self.keyword("and"):
            self.i += 1
            items.append(self.factor())
        return items[0] if len(items) == 1 else Logical("and", tuple(items))

    def factor(self) -> Node:
        token = self.take()
        if token.kind == "lparen":
            node = self.expression()
            closing = self.peek()
            if closing is None:
                raise error(f"unbalanced '(' at position {token.pos}: missing ')'")
            if closing.kind != "rparen":
                raise error(f"expected ')' at position {closing.pos}, found {closing.text!r}")
            self.i += 1
            return node
        if token.kind != "word" or token.text.lower() in _KEYWORDS:
            raise error(f"expected a field name at position {token.pos}, found {token.text!r}")
        return self.comparison(token)

    def comparison(self, field: Token) -> Comparison:
        op = self.operator(field)
        if op in ("in", "not in"):
            opening = self.take()
            if opening.kind != "lparen":
                raise error(f"{op} takes a list in parentheses, e.g. {field.text} in (1, 2)", field.text)
            values = [self.value(field)]
            while (token := self.take()).kind == "comma":
                values.append(self.value(field))
            if token.kind != "rparen":
                raise error(f"expected ',' or ')' in the {op} list at position {token.pos}", field.text)
            return Comparison(field.text, op, tuple(values), field.pos)
        return Comparison(field.text, op, (self.value(field),), field.pos)

    def operator(self, field: Token) -> str:
        token = self.peek()
        if token is None:
            raise error(f"{field.text} has no operator", field.text)
        self.i += 1
        if token.kind == "op":
            return token.text
        word = token.text.lower() if token.kind == "word" else ""
        if word in ("contains", "like", "in"):
            return word
        if word == "not":
            follow = self.take()
            if follow.kind == "word" and follow.text.lower() in ("contains", "like", "in"):
                return f"not {follow.text.lower()}"
            raise error(f"'not' must be followed by contains, like or in (position {follow.pos})", field.text)
        raise error(f"{token.text!r} is not an operator (= != < <= > >= contains like in not)", field.text)

    def value(self, field: Token) -> Value:
        token = self.take()
        if token.kind == "string":
            return Value("string", re.sub(r"\\(.)", r"\1", token.text[1:-1]))
        if token.kind == "number":
            return Value("number", float(token.text) if "." in token.text else int(token.text))
        if token.kind == "bracket":
            return Value("datetime", token.text[1:-1].strip())
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return Value("bool", token.text.lower() == "true")
        if token.kind == "word" and token.text.lower() == "null":
            return Value("null", None)
        raise error(
            f"{token.text!r} at position {token.pos} is not a value: quote strings, "
            f"bracket datetimes ([2024-01-01T00:00:00Z])", field.text,
        )


def parse(text: str) -> Node:
    """The syntax tree of a conditions string (or a 400 saying where it is malformed)."""
    return _Parser(text).parse()


def compile_conditions(text: str, resource: Resource, column: Column) -> ColumnElement[bool]:
    """A SQL boolean for ``text`` over ``resource``'s rows; ``column`` maps a field to SQL."""
    return _compile(parse(text), resource, column)


def _compile(node: Node, resource: Resource, column: Column) -> ColumnElement[bool]:
    if isinstance(node, Logical):
        parts = [_compile(item, resource, column) for item in node.items]
        return and_(*parts) if node.op == "and" else or_(*parts)
    return _comparison(node, resource, column)


def _comparison(node: Comparison, resource: Resource, column: Column) -> ColumnElement[bool]:
    field = resource.field(node.field)
    if field is None:
        raise error(f"{node.field} is not a field of {resource.label}", node.field)
    if field.kind is Kind.OBJECT:
        raise error(f"{field.name} is a reference: compare {field.name}/id or {field.name}/name", field.name)
    if field.kind is Kind.LIST:
        raise error(f"{field.name} is a list: the simulator does not support childConditions on it", field.name)
    if field.kind is Kind.INFO:
        raise error("_info cannot be filtered: use lastUpdated or dateEntered", field.name)
    if any(v.kind == "null" for v in node.values):
        if node.op not in ("=", "!="):
            raise error(f"null can only be compared with = or != ({field.name} {node.op} null)", field.name)
        expr = column(field)
        return expr.is_(None) if node.op == "=" else expr.is_not(None)
    if node.op in _TEXT_ONLY and field.kind is not Kind.STR:
        raise error(f"{node.op} needs a string field; {field.name} is a {field.kind.value}", field.name)
    if node.op in _ORDERING and field.kind is Kind.BOOL:
        raise error(f"{field.name} is a boolean: compare it with = or !=", field.name)
    if field.kind is Kind.DATETIME:
        return _datetime_comparison(field, node, column(field))
    expr = column(field)
    values = [_literal(field, value) for value in node.values]
    if field.kind is Kind.STR:
        expr = func.lower(expr)
    return _apply(expr, node.op, values)


def _apply(expr: ColumnElement[Any], op: str, values: list[Any]) -> ColumnElement[bool]:
    value = values[0]
    if op == "=":
        return expr == value
    if op == "!=":
        return expr != value
    if op == "<":
        return expr < value
    if op == "<=":
        return expr <= value
    if op == ">":
        return expr > value
    if op == ">=":
        return expr >= value
    if op == "in":
        return expr.in_(values)
    if op == "not in":
        return expr.not_in(values)
    if op in ("contains", "not contains"):
        matched = expr.contains(value, autoescape=True)
    else:
        matched = expr.like(value.replace("*", "%"))
    return not_(matched) if op.startswith("not") else matched


def _literal(field: Field, value: Value) -> Any:
    """``value`` as the field's SQL value, or a 400 when its type cannot be compared."""
    kind = field.kind
    if kind in (Kind.INT, Kind.FLOAT):
        if value.kind != "number":
            raise error(f"{field.name} is a number: {_shown(value)} is not", field.name)
        if kind is Kind.INT and isinstance(value.raw, float) and not value.raw.is_integer():
            raise error(f"{field.name} is an integer: {value.raw} is not", field.name)
        return int(value.raw) if kind is Kind.INT else float(value.raw)
    if kind is Kind.STR:
        if value.kind != "string":
            raise error(f"{field.name} is a string: quote the value ({_shown(value)})", field.name)
        return value.raw.lower()
    if kind is Kind.BOOL:
        if value.kind != "bool":
            raise error(f"{field.name} is a boolean: use True or False, not {_shown(value)}", field.name)
        return value.raw
    if kind is Kind.DATE:
        return _timestamp(field, value).date().isoformat()
    raise AssertionError(kind)  # DATETIME is compiled by _datetime_comparison


def _datetime_comparison(field: Field, node: Comparison, expr: ColumnElement[Any]) -> ColumnElement[bool]:
    """Compare a datetime field, stored with whole seconds, with possibly fractional values.

    Stored stamps are ``YYYY-MM-DDTHH:MM:SSZ`` strings, which sort like the instants
    they name; a bound with a fraction of a second is rounded the way that keeps the
    comparison exact (``> 10.5 s`` is ``>= 11 s``; ``= 10.5 s`` matches nothing).
    """
    stamps = [_timestamp(field, value) for value in node.values]
    if all(s.microsecond == 0 for s in stamps) or node.op in ("in", "not in"):
        whole = [_format(s) for s in stamps if s.microsecond == 0]
        if node.op == "in":
            return expr.in_(whole) if whole else false()
        if node.op == "not in":
            return expr.not_in(whole) if whole else expr.is_not(None)
        return _apply(expr, node.op, whole)
    stamp = stamps[0]
    floor = stamp.replace(microsecond=0)
    ceiling = floor + dt.timedelta(seconds=1)
    if node.op in (">", ">="):
        return expr >= _format(ceiling)
    if node.op in ("<", "<="):
        return expr <= _format(floor)
    return false() if node.op == "=" else expr.is_not(None)


def _timestamp(field: Field, value: Value) -> dt.datetime:
    if value.kind != "datetime":
        raise error(
            f"{field.name} is a {field.kind.value}: put the value in square brackets, "
            f"e.g. [2024-01-01T00:00:00Z], not {_shown(value)}", field.name,
        )
    text = value.raw
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise error(f"[{text}] is not a datetime: use [YYYY-MM-DDTHH:MM:SSZ] or [YYYY-MM-DD]", field.name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _format(stamp: dt.datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(value: Value) -> str:
    if value.kind == "string":
        return f'"{value.raw}"'
    if value.kind == "datetime":
        return f"[{value.raw}]"
    return "null" if value.kind == "null" else str(value.raw)
