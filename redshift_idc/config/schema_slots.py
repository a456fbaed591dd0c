"""What the schema expects at a pydantic error's location: the annotation and field there, the keys a
mapping accepts. Read from the models themselves, so a message names the YAML type and form a value needs
without each model repeating it."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo


def strip_optional(annotation: Any) -> Any:
    """`Annotated[X, ...]` and `X | None` as `X`: what the value must be when it is given."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            given = [a for a in get_args(annotation) if a is not type(None)]
            if len(given) == 1:
                annotation = given[0]
                continue
        return annotation


def _constraints(annotation: Any) -> list[Any]:
    """The metadata (`StringConstraints`, `Ge`, ...) of an annotation, through `| None`."""
    found: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *metadata = get_args(annotation)
            found += metadata
            continue
        if origin in (Union, types.UnionType):
            given = [a for a in get_args(annotation) if a is not type(None)]
            if len(given) == 1:
                annotation = given[0]
                continue
        return found


def models_in(annotation: Any) -> list[type[BaseModel]]:
    annotation = strip_optional(annotation)
    members = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    return [m for m in map(strip_optional, members) if isinstance(m, type) and issubclass(m, BaseModel)]


def has_tag(model: type[BaseModel], tag: object) -> bool:
    """Whether `tag` is the value of one of `model`'s literal fields (a discriminated union's variant tag)."""
    return any(get_origin(field.annotation) is Literal and tag in get_args(field.annotation)
               for field in model.model_fields.values())


def field_named(model: type[BaseModel], key: object) -> FieldInfo | None:
    return next((f for name, f in model.model_fields.items() if (f.alias or name) == key), None)


def keys_of(model: type[BaseModel], root: type[BaseModel] | None = None) -> list[str]:
    """The keys a mapping of `model` accepts, as written in YAML (`name` of a file's root is its file name)."""
    return [f.alias or name for name, f in model.model_fields.items() if name != "name" or model is not root]


@dataclass(frozen=True)
class Slot:
    """What the schema expects at a location: the annotation, and the model field it is (if it is one)."""

    annotation: Any
    field: FieldInfo | None = None

    @property
    def optional(self) -> bool:
        return self.field is not None and not self.field.is_required()

    @property
    def base(self) -> Any:
        """The type of a given value (`str` for `Annotated[str, ...] | None`)."""
        return strip_optional(self.annotation)

    @property
    def constraints(self) -> list[Any]:
        return _constraints(self.annotation) + (list(self.field.metadata) if self.field is not None else [])

    def constraint(self, name: str) -> Any:
        return next((getattr(c, name) for c in self.constraints if getattr(c, name, None) is not None), None)


def slot_at(loc: tuple[int | str, ...], root: type[BaseModel]) -> Slot | None:
    """The schema of the value at `loc` (None where the location leaves the schema)."""
    slot = Slot(root)
    index = 0
    while index < len(loc):
        item = loc[index]
        current = strip_optional(slot.annotation)
        origin = get_origin(current)
        if origin in (tuple, list, set, frozenset) and isinstance(item, int):
            args = get_args(current)
            fixed = origin is tuple and not (len(args) == 2 and args[1] is Ellipsis)
            slot = Slot(args[item] if fixed and item < len(args) else args[0] if args and not fixed else Any)
        elif origin is dict:
            key_type, value_type = get_args(current)
            is_key = index + 1 < len(loc) and loc[index + 1] == "[key]"
            slot = Slot(key_type if is_key else value_type)
            index += 1 if is_key else 0
        elif models := models_in(current):
            tagged = [m for m in models if has_tag(m, item) or m.__name__ == item] if len(models) > 1 else []
            if tagged:  # the discriminated-union tag pydantic puts in the location picks the variant
                slot = Slot(tagged[0])
            else:
                field = field_named(models[0], item)
                if field is None:
                    return None
                slot = Slot(field.annotation, field)
        else:
            return None
        index += 1
    return slot


def allowed_keys(loc: tuple[int | str, ...], root: type[BaseModel]) -> list[str]:
    """The keys the mapping holding `loc`'s last key accepts, for did-you-mean hints on unknown keys."""
    slot = slot_at(loc[:-1], root)
    models = models_in(slot.annotation) if slot is not None else []
    return sorted(keys_of(models[0], root)) if models else []
