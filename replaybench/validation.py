"""Declarative validation of the files users write (workloads, cluster profiles) with pydantic,
and its errors as the one line a user reads: file, field, value, and a close match for a
misspelt field.

Models derive from `Strict`: no type coercion ("5" is not an integer, true is not a number),
no NaN or infinity, unknown keys refused, frozen once built.
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


def _as_strings(value: Any) -> Any:
    """librdkafka properties, topic configs, labels: written as YAML scalars, kept as text."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value


#: a mapping of names to text (YAML numbers and booleans are turned into their text)
Properties = Annotated[dict[str, str], BeforeValidator(_as_strings)]


def _non_empty(value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


#: text that must be there (use with a default of None and validate_default=True)
NonEmptyText = Annotated[str, BeforeValidator(_non_empty)]


def format_version(supported: int) -> Any:
    """A file format version field: exactly `supported` (use with a default of None and
    validate_default=True, so that a missing version is named too)."""
    def exactly(value: Any) -> Any:
        if value != supported or isinstance(value, bool):
            raise ValueError(f"expected {supported}, got {value!r}")
        return value
    return Annotated[int, BeforeValidator(exactly)]


def between(kind: type, low: float | None = None, high: float | None = None) -> Any:
    """`kind` limited to [low, high]; the error message names both ends."""
    return Annotated[kind, Field(ge=low, le=high)]


def count_or_auto(high: int) -> Any:
    """A count in 0..high, or `auto` (the harness chooses it at run time)."""
    def check(value: Any) -> Any:
        if value == "auto":
            return value
        text = str(value).strip() if isinstance(value, (int, str)) else ""
        if isinstance(value, bool) or not text.isdigit() or int(text) > high:
            raise ValueError(f"expected auto or an integer 0..{high}, got {value!r}")
        return int(text)
    return Annotated[int | Literal["auto"], BeforeValidator(check)]


def one_line(exc: ValidationError, source: str, model: type[BaseModel]) -> str:
    """The first error of `exc`, as "<source>: <field>: <what is wrong>"."""
    err = exc.errors(include_url=False)[0]
    loc = err["loc"]
    if err["type"] == "extra_forbidden" and loc and not looks_like_field(loc[-1]):
        loc = (*loc[:-1], NOT_SHOWN)
    where = dotted(loc)
    what = _describe(err, model)
    return f"{source}: {where}: {what}" if where else f"{source}: {what}"


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
NOT_SHOWN = "<a key that is no field name, not shown: is this the right file?>"


def looks_like_field(key: object) -> bool:
    """Whether a file's key may be quoted in an error: a field name's shape. Anything else may
    be a line of a file given by mistake (a password file), which an error must not echo."""
    return isinstance(key, str) and _FIELD_NAME.fullmatch(key) is not None


def shown_key(key: object) -> str:
    """An unknown key as an error names it: quoted if it has a field name's shape."""
    return repr(key) if looks_like_field(key) else NOT_SHOWN


def dotted(loc: tuple) -> str:
    """('faults', 0, 'broker') -> 'faults[0].broker'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false", "string_type": "a string",
    "model_type": "a section", "model_attributes_type": "a section", "dict_type": "a mapping",
    "tuple_type": "a list", "list_type": "a list",
}


def _describe(err: dict, model: type[BaseModel]) -> str:
    kind, value, loc = err["type"], err.get("input"), err["loc"]
    if kind == "extra_forbidden":
        names = list(_model_at(model, loc[:-1]).model_fields)
        hint = difflib.get_close_matches(str(loc[-1]), names, n=1)
        return "unknown field" + (f" (did you mean '{hint[0]}'?)" if hint else "")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {value!r}"
    info = _field_at(model, loc)
    if kind == "literal_error" and info is not None:
        return f"{value!r} is not one of {', '.join(map(str, typing.get_args(info.annotation)))}"
    if kind in ("greater_than_equal", "less_than_equal") and info is not None:
        low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
        high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
        shown = float(value) if info.annotation is float else value
        return f"{shown!r} is outside {'' if low is None else low}..{'' if high is None else high}"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "missing":
        return "missing"
    return f"{err['msg']}, got {value!r}"


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    for part in loc:
        if isinstance(part, int):
            continue
        model = _inner_model(model.model_fields[part].annotation) or model
    return model


def _field_at(model: type[BaseModel], loc: tuple) -> FieldInfo | None:
    names = [p for p in loc if not isinstance(p, int)]
    if not names:
        return None
    owner = _model_at(model, tuple(names[:-1]))
    return owner.model_fields.get(names[-1])


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or as the items of a tuple or list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (found := _inner_model(arg)) is not None:
            return found
    return None
