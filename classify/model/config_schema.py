"""The experiment schema's machinery: one small validator driven by the config dataclasses'
annotations (``X | None``, ``Literal``, tuples, tables of values, nested dataclasses), and its
inverse, plain data for the bundle and the MLflow run.

Example:
    >>> from classify.model.config import ModelConfig
    >>> build_dataclass(ModelConfig, {"C": 2}, "demo.toml", "model.").C
    2.0
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from classify.errors import ClassifyError


def build_dataclass(cls: type, data: Any, where: str, prefix: str) -> Any:
    """An instance of the dataclass ``cls`` from the TOML table ``data`` (read from ``where``,
    its keys under ``prefix``), every value checked against the field's annotation."""
    if not isinstance(data, dict):
        raise ClassifyError(f"{where}: [{prefix.rstrip('.') or 'top level'}] must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(k for k, f in fields.items() if f.metadata.get("setting", True))
            raise ClassifyError(
                f"{where}: unknown key {prefix + key!r}", hint=f"known keys here: {known}"
            )
        kwargs[key] = _coerce(hints[key], value, where, f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except ClassifyError as exc:
        raise ClassifyError(f"{where}: {exc.message}", exc.hint) from None


def _coerce(hint: Any, value: Any, where: str, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # `X | None`: false (or None) means None
        inner = next(a for a in args if a is not type(None))
        return None if value is False or value is None else _coerce(inner, value, where, key)
    if hint is Any:
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ClassifyError(f"{where}: {key} must be a table")
        value_hint = args[1]
        return {str(k): _coerce(value_hint, v, where, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, where, f"{key}.")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ClassifyError(f"{where}: {key} = {value!r} is not one of {choices}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ClassifyError(f"{where}: {key} must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where, key) for v in value)
        if len(value) != len(args):
            raise ClassifyError(f"{where}: {key} must have {len(args)} items")
        return tuple(_coerce(a, v, where, key) for a, v in zip(args, value, strict=True))
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ClassifyError(f"{where}: {key} must be {hint.__name__}, not {value!r}")


def to_plain(obj: Any) -> Any:
    """A config dataclass as plain data (lists for tuples), without non-setting fields."""
    if dataclasses.is_dataclass(obj):
        return {
            f.name: to_plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.metadata.get("setting", True)
        }
    if isinstance(obj, tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj
