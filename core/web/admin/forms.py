"""HTML forms generated from a connector's marshmallow config schema.

A connector declares its config once (``DataSource.config_schema``, secrets marked with
``metadata={"secret": True}``); the admin form is derived from it, so a third-party
connector gets a form without writing any HTML. The form only turns HTML's strings into
the types the schema expects (a checkbox into a boolean, JSON text into a mapping);
validating is left to the schema itself, through :func:`podium.connections.create_connection`,
so the form can never accept what the API would refuse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields
from podium.crypto import MASK


@dataclass(frozen=True)
class FormField:
    """One input of a generated form."""

    name: str
    label: str
    widget: str
    """``text``, ``password``, ``number``, ``checkbox`` or ``json`` (a textarea)."""
    required: bool
    description: str
    default: str

    @property
    def secret(self) -> bool:
        return self.widget == "password"


def _widget(field: fields.Field) -> str:
    if field.metadata.get("secret"):
        return "password"
    if isinstance(field, fields.Boolean):
        return "checkbox"
    if isinstance(field, (fields.Integer, fields.Float, fields.Decimal)):
        return "number"
    if isinstance(field, (fields.Dict, fields.List, fields.Nested)):
        return "json"
    return "text"


def _default_text(field: fields.Field, widget: str) -> str:
    default = field.load_default
    if callable(default):
        default = default()
    if default is None or default is fields.missing_ or widget == "password":
        return ""
    if widget == "json":
        return json.dumps(default) if default else ""
    return str(default)


def config_form(schema: type[Schema]) -> list[FormField]:
    """The inputs for ``schema``'s fields, in declaration order."""
    form = []
    for name, field in schema().fields.items():
        if field.dump_only:
            continue
        widget = _widget(field)
        form.append(FormField(
            name=name,
            label=name.replace("_", " ").capitalize(),
            widget=widget,
            required=field.required,
            description=str(field.metadata.get("description", "")),
            default=_default_text(field, widget),
        ))
    return form


def read_config(form: list[FormField], sent: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The config the form's inputs describe, and the inputs that are not even the right
    shape (invalid JSON). Empty optional inputs are left out, so the schema's defaults apply;
    a secret sent back as the mask is left out, so an update keeps the stored one."""
    config: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for item in form:
        if item.widget == "checkbox":
            config[item.name] = sent.get(item.name) in ("on", "true", "1")
            continue
        raw = (sent.get(item.name) or "").strip()
        if not raw or (item.secret and raw == MASK):
            continue
        if item.widget == "json":
            try:
                config[item.name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems[item.name] = [f"Not valid JSON ({exc.msg} at character {exc.pos + 1})."]
        elif item.widget == "number":
            config[item.name] = _number(raw)
        else:
            config[item.name] = raw
    return config, problems


def _number(raw: str) -> int | float | str:
    """An int or float when the text is one; the text otherwise, for the schema to refuse."""
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw
