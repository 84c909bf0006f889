"""The config machinery every schema uses: dataclass defaults -> YAML (at most one ``_base_`` level)
-> ``key=value`` overrides, type and range checks, :func:`freeze`, :func:`save_config`.

Unknown keys and wrong types are errors (the message names the key and, for YAML, the file). The
resolved config is frozen (:func:`freeze` returns an immutable copy) and saved next to each run's
output with :func:`save_config`, together with the git revision. The schemas live in
:mod:`finetrack.config` (Re-ID training and tracking), :mod:`finetrack.det_config`,
:mod:`finetrack.fairmot.config` and :mod:`finetrack.crop_reid.config`; each registers its value
ranges in :data:`RANGES`.
"""
from __future__ import annotations

import dataclasses
import subprocess
import typing
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Type, TypeVar, Union

import yaml

from finetrack.utils.io import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """Unknown key, wrong type or malformed override."""


#: ``[0, 1]`` (thresholds, probabilities, EMA factors)
UNIT = "unit"


#: ``> 0`` (rates, sizes, counts that must not be zero)
POSITIVE = "positive"


#: ``>= 0`` (buffers, decays, offsets)
NON_NEGATIVE = "non_negative"

#: dataclass -> {field: UNIT | POSITIVE | NON_NEGATIVE}; lists are checked item by item, None
#: (where the field allows it) is always accepted. Each schema module registers its classes here.
RANGES: Dict[type, Dict[str, str]] = {}


def _check_range(value: Any, kind: str, key: str) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_range(v, kind, f"{key}[{i}]")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    ok = {UNIT: 0 <= value <= 1, POSITIVE: value > 0, NON_NEGATIVE: value >= 0}[kind]
    if not ok:
        want = {UNIT: "in [0, 1]", POSITIVE: "> 0", NON_NEGATIVE: ">= 0"}[kind]
        raise ConfigError(f"{key}: {value!r} is out of range (must be {want})")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return f"one of {list(typing.get_args(tp))}"
    if origin is Union:
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert int->float; raise ConfigError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if isinstance(value, str) and value in args:
            return value
        raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
    if origin is Union:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _coerce(value, options[0], key)
        for a in options:
            try:
                return _coerce(value, a, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: {value!r} is not {_type_name(tp)}")
    if origin in (list, List, tuple, Tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        out: Optional[float] = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads '1e-3' as a string
            try:
                out = float(value)
            except ValueError:
                pass
        if out is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if out != out:  # NaN passes every comparison: never a valid setting
            raise ConfigError(f"{key}: {value!r} is not a number (NaN)")
        return out
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for section '{key}', got {value!r}")
        return build_dataclass(tp, value, prefix=key + ".")
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")


def build_dataclass(cls: Type[T], data: Dict[str, Any], prefix: str = "") -> T:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {[prefix + k for k in unknown]}; valid keys here: {sorted(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    ranges = RANGES.get(cls, {})
    for k, v in kwargs.items():
        if k in ranges:
            _check_range(v, ranges[k], prefix + k)
    # nested sections not mentioned keep their defaults
    return cls(**kwargs)


def config_changes(
    stored: Dict[str, Any], current: Dict[str, Any], ignore: Sequence[str] = (), prefix: str = ""
) -> List[str]:
    """``"key: old -> new"`` for every leaf that differs between two nested config dicts.

    Args:
        stored, current: :func:`to_dict` outputs (e.g. a checkpoint's config and this run's).
        ignore: dotted keys (``train.epochs``) left out of the comparison.
    """
    out: List[str] = []
    for k in sorted(set(stored) | set(current)):
        key = prefix + k
        if key in ignore:
            continue
        a, b = stored.get(k, "<absent>"), current.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_changes(a, b, ignore, key + ".")
        elif a != b:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def to_dict(cfg: Any) -> Dict[str, Any]:
    """Plain nested dict of a config dataclass (lists, not tuples)."""
    return dataclasses.asdict(cfg)


def _deep_merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: Dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} written twice (lines {seen[key]} and {line}): "
                    "the first would be silently dropped", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None)
        if mark is not None and problem:
            raise ConfigError(f"{path}:{mark.line + 1}: invalid YAML: {problem}") from e
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(e).split())}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def load_yaml_layers(path: Union[str, Path]) -> Dict[str, Any]:
    """Read a YAML config, resolving at most one ``_base_`` level (relative to the file)."""
    path = Path(path)
    data = _read_yaml(path)
    base = data.pop("_base_", None)
    if base is None:
        return data
    base_path = (path.parent / base).resolve()
    base_data = _read_yaml(base_path)
    if "_base_" in base_data:
        raise ConfigError(f"{base_path}: only one _base_ level is allowed (it is the base of {path})")
    return _deep_merge(base_data, data)


def parse_override(text: str) -> Tuple[List[str], Any]:
    """``a.b=value`` -> (["a", "b"], YAML-parsed value). ``[x,y]`` lists and ``null`` work."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: cannot parse value: {e}") from e
    return key.split("."), value


def apply_overrides(data: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    out = _deep_merge({}, data)
    for ov in overrides:
        keys, value = parse_override(ov)
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {ov!r}: {k} is not a section")
        node[keys[-1]] = value
    return out


def load_config(
    cls: Type[T], path: Optional[Union[str, Path]] = None, overrides: Sequence[str] = ()
) -> T:
    """defaults -> YAML (+ one ``_base_``) -> ``key=value`` overrides -> validated dataclass.

    Raises:
        ConfigError: unknown key, wrong type, bad YAML, bad override (message names the key).
    """
    data: Dict[str, Any] = {}
    if path is not None:
        try:
            data = load_yaml_layers(path)
            build_dataclass(cls, data)  # report YAML errors with the file name
        except ConfigError as e:
            if str(path) in str(e):
                raise
            raise ConfigError(f"{path}: {e}") from None
    data = apply_overrides(data, overrides)
    try:
        return build_dataclass(cls, data)
    except ConfigError as e:
        raise ConfigError(f"override: {e}") from None


class FrozenConfigError(AttributeError):
    pass


def freeze(cfg: T) -> T:
    """Return ``cfg`` with every (nested) dataclass instance made read-only."""

    def _freeze(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                _freeze(getattr(obj, f.name))
            object.__setattr__(obj, "__frozen__", True)
        return obj

    return _freeze(cfg)


def guarded_setattr(self, name, value):  # installed on every config dataclass below
    if getattr(self, "__frozen__", False):
        raise FrozenConfigError(f"config is frozen: cannot set {type(self).__name__}.{name}")
    object.__setattr__(self, name, value)


def git_revision(repo_dir: Optional[Union[str, Path]] = None) -> str:
    """Current git SHA (with ``-dirty`` when the tree has changes), or ``unknown``."""
    cwd = str(repo_dir or Path(__file__).resolve().parents[1])
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return (sha or "unknown") + ("-dirty" if sha and dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_config(cfg: Any, out_dir: Union[str, Path], filename: str = "config.yaml") -> Path:
    """Write the resolved config (+ git revision as a comment) atomically; returns the path."""
    out = Path(out_dir) / filename
    text = f"# resolved config; git revision: {git_revision()}\n" + yaml.safe_dump(
        to_dict(cfg), sort_keys=False
    )
    atomic_write_text(out, text)
    return out
