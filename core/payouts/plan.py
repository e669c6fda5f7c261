"""Plan files: YAML validated by marshmallow, with errors that name file, line and field.

A plan file says who is paid (``participants``), how often (``period``), in which one
currency, and by which rules, in order (``rules``: each a registered rule type with its
own config schema — built-in and third-party rule types are validated alike). The full
reference is ``docs/plans.md``.

YAML is parsed with PyYAML's composer, which keeps the position of every node, so an
error marshmallow reports for ``rules.1.components.0.target`` is shown as::

    engineer.yaml, line 14, field rules[1].components[0].target: Must be greater than …

Duplicate keys, which YAML loaders silently resolve to the last one, are errors here:
a plan that says ``weight`` twice is ambiguous about what it pays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)
from podium.payouts.base import PayoutRule
from podium.payouts.fields import loading
from podium.payouts.periods import KINDS, PeriodError
from podium.payouts.periods import parse as parse_period

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
NodePath = tuple[str | int, ...]

MESSAGES = {
    "Missing data for required field.": "This field is required but missing.",
    "Unknown field.": "This is not a field here (check the spelling; docs/plans.md lists every field).",
    "Field may not be null.": "This field needs a value.",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan file."""

    source: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f", field {self.field}" if self.field else ""
        return f"{self.source}, line {self.line}{where}: {self.message}"


class PlanError(ValueError):
    """A plan file that cannot be used; ``problems`` lists each with its line and field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# -- YAML with positions ----------------------------------------------------------------------


def _compose(text: str, source: str) -> tuple[Any, dict[NodePath, int]]:
    """Parse YAML into plain data and a map from each value's path to its line (1-based)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise PlanError([Problem(source, line, "", f"This is not valid YAML: {exc.problem or exc}.")]) from None
    finally:
        loader.dispose()
    if node is None:
        raise PlanError([Problem(source, 1, "", "The file is empty; a plan needs at least plan, title, currency, "
                                                 "period, participants and rules.")])
    lines: dict[NodePath, int] = {}
    problems: list[Problem] = []

    def build(current: yaml.Node, path: NodePath) -> Any:
        lines[path] = current.start_mark.line + 1
        if isinstance(current, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in current.value:
                key = loader.construct_object(key_node, deep=True)
                if key in result:
                    problems.append(Problem(source, key_node.start_mark.line + 1, _dotted((*path, key)),
                                            f"{key!r} is given twice; say it once."))
                result[key] = build(value_node, (*path, key))
                lines[(*path, key)] = key_node.start_mark.line + 1
            return result
        if isinstance(current, yaml.SequenceNode):
            return [build(item, (*path, index)) for index, item in enumerate(current.value)]
        return loader.construct_object(current, deep=True)

    data = build(node, ())
    if problems:
        raise PlanError(problems)
    return data, lines


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _flatten(messages: Any, path: NodePath = ()) -> list[tuple[NodePath, str]]:
    if isinstance(messages, Mapping):
        flat: list[tuple[NodePath, str]] = []
        for key, value in messages.items():
            flat.extend(_flatten(value, path if key == "_schema" else (*path, key)))
        return flat
    if isinstance(messages, (list, tuple)) and all(isinstance(m, str) for m in messages):
        return [(path, MESSAGES.get(m, m)) for m in messages]
    if isinstance(messages, (list, tuple)):
        return [item for m in messages for item in _flatten(m, path)]
    return [(path, MESSAGES.get(str(messages), str(messages)))]


def _problems(source: str, lines: Mapping[NodePath, int], messages: Any, prefix: NodePath = ()) -> list[Problem]:
    problems = []
    for path, message in _flatten(messages, prefix):
        known = path
        while known and known not in lines:
            known = known[:-1]
        problems.append(Problem(source, lines.get(known, 1), _dotted(path), message))
    return problems


# -- the schema ------------------------------------------------------------------------------


class ParticipantsSchema(Schema):
    """Who a plan pays: the union of the selectors given, less ``exclude``."""

    class Meta:
        unknown = RAISE

    all = fields.Boolean()
    teams = fields.List(fields.String(), validate=validate.Length(min=1))
    roles = fields.List(fields.String(), validate=validate.Length(min=1))
    levels = fields.List(fields.String(), validate=validate.Length(min=1))
    people = fields.List(fields.Email(), validate=validate.Length(min=1))
    exclude = fields.List(fields.Email())
    cohort = fields.String(metadata={"description": "Name of a pilot cohort (the people listed)."})

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(data.get(k) for k in ("all", "teams", "roles", "levels", "people")):
            raise ValidationError("Say who takes part: all: true, or teams, roles, levels or people.")
        if data.get("cohort") and not data.get("people"):
            raise ValidationError("A pilot cohort lists its people.", "cohort")


class PhaseInSchema(Schema):
    class Meta:
        unknown = RAISE

    baseline_period = fields.String(required=True, metadata={
        "description": "The period whose results set initial targets; it pays nothing."})


class AppealsSchema(Schema):
    class Meta:
        unknown = RAISE

    turnaround_days = fields.Integer(load_default=10, validate=validate.Range(min=1))


class RuleEntrySchema(Schema):
    """Only ``type`` and ``name`` here; the rest is the rule type's own config schema."""

    class Meta:
        unknown = "include"

    type = fields.String(required=True)
    name = fields.String(validate=validate.Regexp(SLUG, error="Use lower-case letters, digits, - and _."))


class PlanSchema(Schema):
    class Meta:
        unknown = RAISE

    plan = fields.String(required=True, validate=validate.Regexp(
        SLUG, error="A plan key is lower-case letters, digits, - and _ (e.g. engineer-quarterly)."))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String()
    currency = fields.String(required=True, validate=validate.Regexp(
        CURRENCY, error="Give the ISO 4217 code in capitals, e.g. USD."))
    period = fields.String(required=True, validate=validate.OneOf(KINDS))
    effective_from = fields.Date()
    settling_days = fields.Integer(load_default=7, validate=validate.Range(min=0, max=366))
    pay_days_after_end = fields.Integer(load_default=0, validate=validate.Range(min=0, max=366))
    participants = fields.Nested(ParticipantsSchema, required=True)
    phase_in = fields.Nested(PhaseInSchema)
    appeals = fields.Nested(AppealsSchema, load_default=lambda: {"turnaround_days": 10})
    rules = fields.List(fields.Nested(RuleEntrySchema), required=True, validate=validate.Length(
        min=1, error="A plan needs at least one rule."))


# -- the loaded plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    """One entry of ``rules``: its type, its unique name and its raw config."""

    type: str
    name: str
    config: dict[str, Any]


@dataclass(frozen=True)
class PlanDefinition:
    """A validated plan file."""

    key: str
    title: str
    currency: str
    period: str
    participants: dict[str, Any]
    rules: tuple[RuleSpec, ...]
    source_text: str
    description: str | None = None
    effective_from: dt.date | None = None
    settling_days: int = 7
    pay_days_after_end: int = 0
    baseline_period: str | None = None
    appeal_turnaround_days: int = 10
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.source_text.encode()).hexdigest()

    def build_rules(self, rule_types: Any) -> list[PayoutRule]:
        """Instances of the plan's rules from the registry they were validated against."""
        with loading(self.currency, None):
            return [rule_types.get(spec.type)(spec.config, name=spec.name) for spec in self.rules]


def load_plan(
    text: str,
    source: str,
    rule_types: Any,
    metric_keys: Iterable[str] | None = None,
) -> PlanDefinition:
    """Validate a plan file's text; raises :class:`PlanError` naming every problem.

    ``rule_types`` is the payout-rule registry (``podium.plugins.payout_rules``);
    ``metric_keys`` the registered metrics, so a misspelt metric is caught here and not
    at the first payout run.
    """
    data, lines = _compose(text, source)
    if not isinstance(data, dict):
        raise PlanError([Problem(source, 1, "", "A plan file is a mapping of fields (plan:, title:, …).")])
    try:
        plan = PlanSchema().load(data)
    except ValidationError as exc:
        raise PlanError(_problems(source, lines, exc.messages)) from None
    problems: list[Problem] = []
    specs: list[RuleSpec] = []
    known = frozenset(metric_keys) if metric_keys is not None else None
    seen: dict[str, int] = {}
    with loading(plan["currency"], known):
        for index, entry in enumerate(plan["rules"]):
            config = {k: v for k, v in data["rules"][index].items() if k not in ("type", "name")}
            type_key = entry["type"]
            name = entry.get("name") or type_key
            if name in seen:
                problems.append(Problem(source, lines[("rules", index)], f"rules[{index}].name",
                                        f"Two rules are named {name!r} (rules[{seen[name]}] too); "
                                        "give one of them a name: of its own."))
            seen[name] = index
            if type_key not in rule_types:
                listed = ", ".join(sorted(cls.key for cls in rule_types)) or "none"
                problems.append(Problem(source, lines[("rules", index, "type")], f"rules[{index}].type",
                                        f"There is no rule type {type_key!r}; registered rule types: {listed}."))
                continue
            try:
                rule = rule_types.get(type_key)(config, name=name)
            except ValidationError as exc:
                problems.extend(_problems(source, lines, exc.messages, ("rules", index)))
                continue
            for metric_key, _params, _grain in rule.metrics_used() if known is not None else ():
                if metric_key not in known:
                    problems.append(Problem(source, lines[("rules", index)], f"rules[{index}]",
                                            f"This rule reads the metric {metric_key!r}, which no plugin registers "
                                            "(name another with metric:, or install the plugin that provides it)."))
            specs.append(RuleSpec(type_key, name, config))
    problems.extend(_order_problems(source, lines, specs, plan))
    baseline = (plan.get("phase_in") or {}).get("baseline_period")
    if baseline is not None:
        try:
            parse_period(baseline, plan["period"])
        except PeriodError as exc:
            problems.append(Problem(source, lines[("phase_in", "baseline_period")], "phase_in.baseline_period",
                                    f"{exc}."))
    if problems:
        raise PlanError(problems)
    return PlanDefinition(
        key=plan["plan"],
        title=plan["title"],
        currency=plan["currency"],
        period=plan["period"],
        participants=plan["participants"],
        rules=tuple(specs),
        source_text=text,
        description=plan.get("description"),
        effective_from=plan.get("effective_from"),
        settling_days=plan["settling_days"],
        pay_days_after_end=plan["pay_days_after_end"],
        baseline_period=baseline,
        appeal_turnaround_days=plan["appeals"]["turnaround_days"],
        data=data,
    )


def _order_problems(source: str, lines: Mapping[NodePath, int], specs: list[RuleSpec], plan: dict[str, Any]) -> list[Problem]:
    """Clawbacks are applied before the floor (a floor must see what they took back)."""
    types = [spec.type for spec in specs]
    if "limits" in types and "clawback" in types and types.index("clawback") > types.index("limits"):
        index = next(i for i, r in enumerate(plan["rules"]) if r["type"] == "clawback")
        return [Problem(source, lines[("rules", index)], f"rules[{index}]",
                        "A clawback must come before the limits rule: the floor applies after clawbacks.")]
    return []
