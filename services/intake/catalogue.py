"""The catalogue of request categories, their form fields and the priority questions.

Loaded once from the desk configuration (`LOKET_CONFIG`) and checked there: a catalogue an
operator got wrong stops intake at start instead of refusing customers later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.common.config import ConfigError
from services.common.vocabulary import LANGUAGES, LEVELS

FIELD_TYPES = ("text", "textarea", "number", "choice", "date", "email", "phone")
UNCLASSIFIED = "unclassified"
DEFAULT_LENGTHS = {"text": 200, "textarea": 5000}


@dataclass(frozen=True)
class Option:
    value: str
    label: Mapping[str, str]


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    required: bool
    label: Mapping[str, str]
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Category:
    id: str
    queue: str
    default_priority: int
    name: Mapping[str, str]
    description: Mapping[str, str]
    fields: tuple[FormField, ...]


@dataclass(frozen=True)
class Catalogue:
    categories: Mapping[str, Category]
    questions: tuple[FormField, ...]  # impact and urgency: optional choices
    priority_matrix: Mapping[str, Mapping[str, int]]

    def localized(self, lang: str) -> dict[str, Any]:
        """The contract's shape of `GET /v1/catalogue`, in one language."""
        return {
            "categories": [
                {
                    "id": c.id,
                    "name": c.name[lang],
                    "description": c.description[lang],
                    "queue": c.queue,
                    "default_priority": c.default_priority,
                    "fields": [_localized_field(f, lang) for f in c.fields],
                    "questions": [_localized_field(q, lang) for q in self.questions],
                }
                for c in self.categories.values()
            ]
        }


def _localized_field(field: FormField, lang: str) -> dict[str, Any]:
    return {
        "name": field.name,
        "label": field.label[lang],
        "type": field.type,
        "required": field.required,
        "options": [o.value for o in field.options] if field.type == "choice" else None,
        "option_labels": {o.value: o.label[lang] for o in field.options} or None,
        # The limits intake enforces, so a front-end can show them before a 422.
        "max_length": 254 if field.type == "email" else field.max_length,
        "min": field.min,
        "max": field.max,
    }


# The configuration's own schema.


class _Texts(fields.Dict):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            keys=fields.String(validate=validate.OneOf(LANGUAGES)),
            values=fields.String(validate=validate.Length(min=1, max=500)),
            validate=lambda texts: (
                set(texts) == set(LANGUAGES) or _fail("needs a text in every language: nl and en")
            ),
            **kwargs,
        )


def _fail(message: str) -> bool:
    raise ValidationError(message)


class _OptionSchema(Schema):
    class Meta:
        unknown = RAISE

    value = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_]{1,64}$"))
    label = _Texts(required=True)


class _FieldSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"))
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    required = fields.Boolean(load_default=False)
    label = _Texts(required=True)
    options = fields.List(fields.Nested(_OptionSchema), load_default=list)
    max_length = fields.Integer(load_default=None, validate=validate.Range(min=1, max=20_000))
    min = fields.Float(load_default=None)
    max = fields.Float(load_default=None)

    @validates_schema
    def _choices_have_options(self, data: Mapping[str, Any], **_: Any) -> None:
        if data["type"] == "choice" and not data["options"]:
            raise ValidationError("a choice needs options", "options")


class _CategorySchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"))
    queue = fields.String(required=True)
    default_priority = fields.Integer(required=True, validate=validate.Range(min=1, max=4))
    name = _Texts(required=True)
    description = _Texts(required=True)
    fields_ = fields.List(
        fields.Nested(_FieldSchema), data_key="fields", attribute="fields", load_default=list
    )


class _QuestionSchema(Schema):
    class Meta:
        unknown = RAISE

    label = _Texts(required=True)
    options = fields.List(fields.Nested(_OptionSchema), required=True)


def load_catalogue(desk: Mapping[str, Any]) -> Catalogue:
    try:
        return _load(desk)
    except ValidationError as exc:
        raise ConfigError("LOKET_CONFIG", f"the catalogue is invalid: {exc.messages}") from None
    except (KeyError, TypeError) as exc:
        raise ConfigError("LOKET_CONFIG", f"the catalogue is incomplete: {exc}") from None


def _load(desk: Mapping[str, Any]) -> Catalogue:
    queues = {q["id"] for q in desk["queues"]}
    raw_categories = _CategorySchema(many=True).load(desk["catalogue"])
    categories: dict[str, Category] = {}
    for raw in raw_categories:
        if raw["queue"] not in queues:
            raise ValidationError(f"category {raw['id']}: unknown queue {raw['queue']!r}")
        if raw["id"] in categories:
            raise ValidationError(f"category {raw['id']} appears twice")
        categories[raw["id"]] = Category(
            id=raw["id"],
            queue=raw["queue"],
            default_priority=raw["default_priority"],
            name=raw["name"],
            description=raw["description"],
            fields=tuple(
                FormField(
                    name=f["name"],
                    type=f["type"],
                    required=f["required"],
                    label=f["label"],
                    options=tuple(Option(o["value"], o["label"]) for o in f["options"]),
                    max_length=f["max_length"] or DEFAULT_LENGTHS.get(f["type"]),
                    min=f["min"],
                    max=f["max"],
                )
                for f in raw["fields"]
            ),
        )
    if UNCLASSIFIED not in categories:
        raise ValidationError(f"a category {UNCLASSIFIED!r} is needed for e-mail")
    questions = []
    for name in ("impact", "urgency"):
        raw = _QuestionSchema().load(desk["questions"][name])
        values = [o["value"] for o in raw["options"]]
        if sorted(values) != sorted(LEVELS):
            raise ValidationError(f"question {name} must offer exactly {', '.join(LEVELS)}")
        options = tuple(Option(o["value"], o["label"]) for o in raw["options"])
        questions.append(FormField(name, "choice", False, raw["label"], options))
    matrix = desk["priority_matrix"]
    for impact in LEVELS:
        for urgency in LEVELS:
            if int(matrix[impact][urgency]) not in (1, 2, 3, 4):
                raise ValidationError(f"priority_matrix.{impact}.{urgency} must be 1 to 4")
    return Catalogue(categories, tuple(questions), matrix)
