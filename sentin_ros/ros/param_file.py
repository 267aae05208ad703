"""ROS 2 parameter YAML files, read the way rcl reads `--params-file`, for in-process nodes.

    /**:                       # every node
      ros__parameters: {...}
    /**/face_node:             # a node called face_node in any namespace
      ros__parameters: {...}
    /robot1/face_node:         # exactly that node
      ros__parameters: {...}

Keys without a leading slash are taken as absolute ('face_node' = '/face_node'), as rcl does.
`*` matches one name token, `**` any number of them. Matching sections apply in file order,
so a later section overrides an earlier one; nested maps flatten to dotted names.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PARAMS_KEY = "ros__parameters"


class ParamFileError(ValueError):
    pass


def _tokens(name: str) -> list[str]:
    return [t for t in name.strip().split("/") if t]


def _match(pattern: list[str], name: list[str]) -> bool:
    if not pattern:
        return not name
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, name[i:]) for i in range(len(name) + 1))
    if not name:
        return False
    return (head == "*" or head == name[0]) and _match(rest, name[1:])


def fully_qualified_name(node_name: str, namespace: str = "") -> str:
    ns = "/".join(_tokens(namespace))
    return f"/{ns}/{node_name}" if ns else f"/{node_name}"


def _flatten(values: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def load(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """[(node pattern, {parameter: value})] in file order."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ParamFileError(f"cannot read parameter file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ParamFileError(f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ParamFileError(f"{path}: expected a map of node names at the top level")
    sections = []
    for pattern, body in data.items():
        sections.extend(_sections(str(pattern), body, path))
    return sections


def _sections(pattern: str, body: Any, path) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(body, dict):
        raise ParamFileError(f"{path}: section {pattern!r} is not a map")
    if PARAMS_KEY in body:
        params = body[PARAMS_KEY] or {}
        if not isinstance(params, dict):
            raise ParamFileError(f"{path}: {pattern}/{PARAMS_KEY} is not a map")
        return [(pattern, _flatten(params))]
    # rcl also allows the namespace and the node name as nested keys: /ns: {node: {ros__parameters}}
    out = []
    for child, sub in body.items():
        out.extend(_sections(f"{pattern.rstrip('/')}/{child}", sub, path))
    return out


def params_for(sections: list[tuple[str, dict[str, Any]]], node_name: str, namespace: str = "") -> dict[str, Any]:
    """Parameters from every matching section, later sections winning."""
    name = _tokens(fully_qualified_name(node_name, namespace))
    merged: dict[str, Any] = {}
    for pattern, params in sections:
        if _match(_tokens(pattern), name):
            merged.update(params)
    return merged


def to_parameters(values: dict[str, Any]) -> list:
    from rclpy.parameter import Parameter

    return [Parameter(name, value=value) for name, value in values.items()]
