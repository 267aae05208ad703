"""config/sentin.yaml against the code, and parameter-file matching as rcl does it."""
from __future__ import annotations

from pathlib import Path

import pytest

from sentin_ros.ros import param_file
from sentin_ros.tools import params_doc

ROOT = Path(__file__).resolve().parents[1]
YAML = ROOT / "config" / "sentin.yaml"


@pytest.fixture(scope="module")
def docs():
    return params_doc.describe_all()


def test_every_yaml_key_is_a_declared_parameter_of_the_right_type(docs):
    assert params_doc.check(str(YAML), docs) == []


def test_yaml_documents_every_parameter_at_its_default(docs):
    sections = param_file.load(YAML)
    assert set(docs) == {"source_node", "face_node", "emotion_node", "stress_node", "gaze_node", "biometrics_node", "debug_view_node"}
    for node, params in docs.items():
        values = param_file.params_for(sections, node, "some_ns")
        for p in params:
            if p.name.endswith("model_path"):
                assert p.name in YAML.read_text(), f"{node}.{p.name} not documented"
                continue
            assert p.name in values, f"{node}.{p.name} missing from {YAML.name}"
            assert values[p.name] == p.default, f"{node}.{p.name}: YAML {values[p.name]!r} != default {p.default!r}"


def test_check_reports_unknown_names_and_wrong_types(tmp_path, docs):
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**/face_node:\n  ros__parameters:\n    max_facez: 2\n    track_timeout: 1\n")
    problems = params_doc.check(str(bad), docs)
    assert any("max_facez" in p for p in problems) and any("track_timeout" in p and "int" in p for p in problems)


def test_markdown_table_lists_descriptions(docs):
    md = params_doc.to_markdown(docs)
    assert "| `max_faces` | `8` | integer | [1, 32] |" in md


def test_sections_match_like_rcl(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(
        "/**:\n  ros__parameters: {a: 1, nested: {b: 2}}\n"
        "face_node:\n  ros__parameters: {a: 2}\n"
        "/**/face_node:\n  ros__parameters: {c: 3}\n"
        "/cam1/face_node:\n  ros__parameters: {a: 4}\n"
        "/cam1:\n  emotion_node:\n    ros__parameters: {d: 5}\n"
    )
    s = param_file.load(f)
    assert param_file.params_for(s, "face_node") == {"a": 2, "nested.b": 2, "c": 3}
    assert param_file.params_for(s, "face_node", "cam1") == {"a": 4, "nested.b": 2, "c": 3}
    assert param_file.params_for(s, "face_node", "/robot/cam2") == {"a": 1, "nested.b": 2, "c": 3}
    assert param_file.params_for(s, "emotion_node", "cam1") == {"a": 1, "nested.b": 2, "d": 5}


def test_readme_lists_every_parameter(docs):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for node, params in docs.items():
        for p in params:
            assert f"`{p.name}`" in readme, f"{node}.{p.name} is not in the README's parameter tables"
