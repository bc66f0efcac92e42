"""Strict construction of frozen dataclasses from YAML/JSON mappings: the whole config is checked before
any model exists, and a mistake is one line naming where it is, the key and what is valid.

A config class is a dataclass whose fields carry their documentation and bounds in `metadata`:

    lr: float = field(default=1e-3, metadata={"help": "peak learning rate", "exclusive_min": 0})

`build(Class, mapping, "training")` refuses unknown keys (naming the valid ones), missing required keys,
values of the wrong type (a string where a number belongs) and values outside the bounds, then calls the
class, whose `__post_init__` checks what involves several fields. Nothing here imports torch: the
Snakefile builds the config at every invocation.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

BOUNDS = ("min", "exclusive_min", "max")


class ConfigError(ValueError):
    """A config mistake; the message is one line: `<where>: <what is wrong and what is valid>`."""


def option(help: str, default=dataclasses.MISSING, **bounds):
    """A documented config field: `help` for config/README.md, bounds min / exclusive_min / max."""
    unknown = set(bounds) - set(BOUNDS)
    if unknown:
        raise TypeError(f"unknown bound(s) {sorted(unknown)}; valid: {BOUNDS}")
    metadata = {"help": help, **bounds}
    if isinstance(default, (list, dict)):  # a mutable default: each instance gets its own copy
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def build(cls, value, where: str):
    """An instance of dataclass `cls` from a mapping, every key checked; ConfigError names `where`."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping of options, got {_shown(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in value if k not in fields]
    if unknown:
        raise ConfigError(f"{where or 'config'}: {unknown_key(unknown[0], fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, f in fields.items():
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(
                    f"{where or 'config'}: missing required option {name!r} ({f.metadata.get('help', '')})"
                )
            continue
        kwargs[name] = parse(hints[name], value[name], where, name)
        check_bounds(f, value[name], where)  # the value as written (0, not 0.0, in the message)
    try:
        return cls(**kwargs)
    except ConfigError as err:  # a __post_init__ check: it knows the key, not where the entry is
        raise ConfigError(f"{where or 'config'}: {err}") from None


def unknown_key(key: str, valid, noun: str = "option") -> str:
    """`unknown <noun> 'x' (did you mean 'y'? valid: ...)`."""
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {noun} {key!r} ({hint}valid: {', '.join(map(str, valid))})"


def parse(tp, value, where: str, key: str):
    """`value` checked against the annotation `tp` (and converted: nested dataclasses, tuples)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, join(where, key))
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(arms) < len(get_args(tp)):
            return None
        if len(arms) == 1:  # X | None: X's own message (an unknown key inside a mapping, say)
            return parse(arms[0], value, where, key)
        for arm in arms:
            try:
                return parse(arm, value, where, key)
            except ConfigError:
                continue
        raise _type_error(tp, value, where, key)
    if origin is Literal:
        if value in get_args(tp) and not isinstance(value, bool):
            return value
        raise ConfigError(
            f"{where or 'config'}: {key} must be one of {_choices(get_args(tp))}; got {_shown(value)}"
        )
    if origin is list:
        if not isinstance(value, list):
            raise _type_error(tp, value, where, key)
        (item,) = get_args(tp)
        return [parse(item, v, where, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _type_error(tp, value, where, key)
        _, item = get_args(tp)
        return {
            k: parse(item, v, join(where, key) if dataclasses.is_dataclass(item) else where, k)
            for k, v in value.items()
        }
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (
        tp in (bool, int, float, str)
        and isinstance(value, tp)
        and not (tp is not bool and isinstance(value, bool))
    ):
        return value
    raise _type_error(tp, value, where, key)


def join(where: str, key: str) -> str:
    """The dotted path of `key` inside `where` (the top level is "")."""
    return f"{where}.{key}" if where else key


def check_bounds(f: dataclasses.Field, value, where: str) -> None:
    """The field's min / exclusive_min / max, on a number or on every number of a list."""
    values = value if isinstance(value, list) else [value]
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        low, strict, high = f.metadata.get("min"), f.metadata.get("exclusive_min"), f.metadata.get("max")
        if (
            (low is not None and v < low)
            or (strict is not None and v <= strict)
            or (high is not None and v > high)
        ):
            raise ConfigError(f"{where or 'config'}: {f.name} must be {describe_bounds(f)}; got {v!r}")


def describe_bounds(f: dataclasses.Field) -> str:
    low, strict, high = f.metadata.get("min"), f.metadata.get("exclusive_min"), f.metadata.get("max")
    if strict is not None and high is not None:
        return f"in ({strict}, {high}]"
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    if strict is not None:
        return f"> {strict}"
    if low is not None:
        return f">= {low}"
    return f"<= {high}"


def describe(tp) -> str:
    """The annotation in words, for messages and the config reference."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in get_args(tp) if a is not type(None))
    if origin is Literal:
        return "one of " + _choices(get_args(tp))
    if origin is list:
        return f"a list of {_plural(describe(get_args(tp)[0]))}"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", Any: "anything"}[tp]


def _type_error(tp, value, where, key) -> ConfigError:
    note = ""
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value.strip()):
        note = f" (YAML reads {value} as text; write it with a decimal point, e.g. 1.0e-3)"
    return ConfigError(f"{where or 'config'}: {key} must be {describe(tp)}; got {_shown(value)}{note}")


def _shown(value) -> str:
    kind = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})" if not isinstance(value, (list, dict)) else kind


def _choices(values) -> str:
    return ", ".join(repr(v) for v in values)


def _plural(text: str) -> str:
    return re.sub(r"^an? (\w+)", lambda m: m.group(1) + "s", text)


def as_plain(obj):
    """A config object as JSON-able data (dataclasses -> dicts with every field, defaults included)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [as_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: as_plain(v) for k, v in obj.items()}
    return obj
