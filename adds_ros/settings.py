# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Settings declared once: dataclass fields that carry their description, range and choices.

`param(default, description, limits, choices)` makes such a field (choices may be a function,
read when checked: a registry that entry points extend); `check` raises ValueError naming the
first field outside its range or choices. A bigger table (the node's parameters) takes a
component's settings with `same_as(Config, name)`, default, description and limits included,
and `section(table, Config)` builds that component's config back from them, so no setting is
written twice and no mapping between the two is written by hand.
"""

from dataclasses import Field, field, fields
from typing import Any, Callable, Optional, Sequence, Tuple, Type, TypeVar, Union

T = TypeVar('T')
Choices = Union[Sequence[str], Callable[[], Sequence[str]], None]


def param(default: Any, description: str, limits: Optional[Tuple[float, float]] = None,
          choices: Choices = None) -> Any:
    """Make a dataclass field that also records its description and constraints."""
    return field(default=default, metadata={
        'description': description, 'range': limits,
        'choices': choices if callable(choices) or not choices else tuple(choices)})


def choices_of(spec: Field) -> Optional[Tuple[str, ...]]:
    """Return the values a field accepts (None: any), reading a registry's now."""
    choices = spec.metadata.get('choices')
    return tuple(choices()) if callable(choices) else choices


def check(settings: Any, what: str) -> None:
    """Raise ValueError naming the first field of `settings` outside its range or choices.

    None (an optional setting left unset) passes; each element of a tuple or list is checked.
    """
    for spec in fields(settings):
        value = getattr(settings, spec.name)
        limits, choices = spec.metadata.get('range'), choices_of(spec)
        for item in value if isinstance(value, (tuple, list)) else [value]:
            if item is None:
                continue
            if limits and not limits[0] <= item <= limits[1]:
                raise ValueError(f'{what} {spec.name!r} = {item} is outside '
                                 f'[{limits[0]}, {limits[1]}]')
            if choices and item not in choices:
                raise ValueError(f'{what} {spec.name!r} = {item!r} is not one of {choices}')


def same_as(config: type, name: str) -> Any:
    """Declare `config`'s field `name` under another name (default and metadata too)."""
    spec = next(spec for spec in fields(config) if spec.name == name)
    return field(default=spec.default, metadata=dict(spec.metadata, section=(config, name)))


def section(table: Any, config: Type[T]) -> T:
    """Build `config` from the fields of `table` declared `same_as` its fields."""
    return config(**{spec.metadata['section'][1]: getattr(table, spec.name)
                     for spec in fields(table)
                     if spec.metadata.get('section', (None,))[0] is config})
