# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Config dataclass <-> command line: one option per field, and the dataclass back from them.

`add_options` gives each field `--field-name` (type from the annotation; a list or
`Tuple[X, ...]` takes one word per element; a field without a default is required; a boolean
becomes a switch, `--no-name` when it defaults to True). Every option defaults to None, so
`build` can tell what the user typed: the dataclass's defaults, then a preset (a `--quick`
dictionary), then the options given. Help texts end in the field's default unless they already
say what the default is. A field declared with `adds_ros.settings.param` brings its own help
text (its description) and choices, so such a dataclass is the whole declaration of a command's
options, as `NodeParams` is of the node's parameters.

`adds train`'s `key=value` overrides (training/config.py) stay their own syntax: they reach
into nested sections (`model.num_layers=34`) whose values are free-form YAML checked by
TrainConfig, which flat typed options cannot express.
"""

import argparse
from dataclasses import Field, fields, MISSING
import typing
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from adds_ros.errors import UserValueError
from adds_ros.settings import choices_of

Parser = Callable[[str], Any]


def _unwrap_optional(annotation: Any) -> Any:
    """`Optional[X]` -> X: None is what an option not given means anyway."""
    if typing.get_origin(annotation) is typing.Union:
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _is_variadic(annotation: Any) -> bool:
    """Whether a field holds any number of values (a list or `Tuple[X, ...]`)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    return origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis)


def _word_parser(name: str, annotation: Any, parser: Optional[Parser]) -> Tuple[Parser, bool]:
    """Return how to parse one word of a field, and whether the field takes several words."""
    variadic = _is_variadic(annotation)
    element = typing.get_args(annotation)[0] if variadic else annotation
    kind = parser or element
    if not callable(kind) or typing.get_origin(kind) is not None:
        raise TypeError(f'field {name!r} ({annotation}) needs a parser for its words')
    return kind, variadic


def default_of(spec: Field) -> Any:
    """Return a field's default (calling its factory); MISSING when it has none."""
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default


def _help(text: str, default: Any) -> str:
    """Append the default unless the text already names it or there is none to show."""
    if 'default' in text or default in (None, '', (), [], MISSING) or isinstance(default, bool):
        return text
    shown = ' '.join(map(str, default)) if isinstance(default, (tuple, list)) else default
    return f'{text} (default {shown})'.lstrip()


def add_options(parser: argparse.ArgumentParser, cls: type,
                help_texts: Optional[Mapping[str, str]] = None,
                parsers: Optional[Mapping[str, Parser]] = None,
                extra: Optional[Mapping[str, dict]] = None, skip: Sequence[str] = ()) -> None:
    """Add `--field-name` for each field of dataclass `cls` not in `skip`.

    `help_texts` name a field's help where its declaration has none (`settings.param`'s
    description); `parsers` parse one word of a field whose annotation is no plain type (a
    `Tuple[int, int]` size, or each element of a list of sizes); `extra` adds or replaces
    `add_argument` keywords (`choices`, `nargs`, `metavar`) and may give `flags`: other option
    strings (an alias, a shorter name), or the field's name alone for a positional argument.
    """
    hints = typing.get_type_hints(cls)
    for spec in fields(cls):
        if spec.name in skip or not spec.init:
            continue
        flag = '--' + spec.name.replace('_', '-')
        annotation = _unwrap_optional(hints[spec.name])
        default = default_of(spec)
        text = (help_texts or {}).get(spec.name) or spec.metadata.get('description', '')
        if annotation is bool:
            if default is True:
                options = dict(flags=['--no-' + flag[2:]], action='store_const', const=False,
                               help=f'disable: {text or spec.name}')
            else:
                options = dict(flags=[flag], action='store_const', const=True, help=text)
        else:
            kind, variadic = _word_parser(spec.name, annotation, (parsers or {}).get(spec.name))
            options = dict(flags=[flag], type=kind, help=_help(text, default))
            if choices_of(spec):
                options['choices'] = choices_of(spec)
            if variadic:
                options['nargs'] = '+'
            if default is MISSING:
                options['required'] = True
        options.update((extra or {}).get(spec.name, {}))
        flags = options.pop('flags')
        if flags == [spec.name]:  # positional: argparse names it, and it is always given
            options.pop('required', None)
            parser.add_argument(spec.name, **options)
        else:
            parser.add_argument(*flags, dest=spec.name, default=None, **options)


def given_values(cls: type, args: argparse.Namespace) -> Dict[str, Any]:
    """Return the fields of `cls` the user gave options for, lists made tuples where typed so."""
    hints = typing.get_type_hints(cls)
    values = {}
    for spec in fields(cls):
        value = getattr(args, spec.name, None)
        if value is None or not spec.init:
            continue
        if isinstance(value, list) and typing.get_origin(
                _unwrap_optional(hints[spec.name])) is tuple:
            value = tuple(value)
        values[spec.name] = value
    return values


def build(cls: type, args: argparse.Namespace, preset: Optional[Mapping[str, Any]] = None):
    """Return `cls` from its defaults, then `preset`, then the options given on the line."""
    return cls(**{**(preset or {}), **given_values(cls, args)})


def build_checked(cls: type, args: argparse.Namespace,
                  preset: Optional[Mapping[str, Any]] = None):
    """Return `build(cls, args, preset)`; a value `cls` refuses (ValueError) is the user's error.

    `cls` checks its values where it is made (`__post_init__`: `settings.check`), so a caller
    building it from a file or in code gets the same refusal as the command line.
    """
    try:
        return build(cls, args, preset)
    except ValueError as err:
        raise UserValueError(str(err)) from None
