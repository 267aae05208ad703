"""The one graph builder (ros/graph.py): which nodes start and what each gets on top of the YAML,
as the composition, `sentin-ros run` and the launch file use it."""
from pathlib import Path

from sentin_ros.ros.graph import BY_KEY, GraphConfig, precheck

YAML = str(Path(__file__).resolve().parents[1] / "config" / "sentin.yaml")


def test_wanted_nodes_follow_the_choices():
    config = GraphConfig(params_file=YAML, models=("face", "gaze"))
    assert [s.key for s in config.wanted(config.sections())] == ["face", "gaze"]
    config = GraphConfig(params_file=YAML, source="clip.mp4", debug_image=True)
    assert [s.key for s in config.wanted(config.sections())] == ["source", "face", "emotion", "stress", "gaze", "debug_view"]


def test_overrides_go_where_they_belong_and_win_over_the_yaml():
    config = GraphConfig(params_file=YAML, namespace="cam1", image_topic="/cam/image", compressed=False, delegate="gpu",
                         num_threads=3, source="0", overrides={"*": {"diagnostics_period": 0.5}, "face": {"max_faces": 2}})
    sections = config.sections()
    face = config.parameters(sections, BY_KEY["face"])
    assert face["image_topic"] == "/cam/image" and face["image_transport"] == "raw" and face["max_faces"] == 2
    assert face["delegate"] == "gpu" and face["num_threads"] == 3 and face["diagnostics_period"] == 0.5
    assert config.overrides_for(BY_KEY["source"]) == {"image_topic": "/cam/image", "image_transport": "raw", "source": "0",
                                                      "diagnostics_period": 0.5}
    emotion = config.overrides_for(BY_KEY["emotion"])
    assert emotion == {"delegate": "gpu", "num_threads": 3, "diagnostics_period": 0.5,  # no image parameters
                       "publish_embedding": True}  # the stress node runs: it takes the emotion node's embeddings
    assert "publish_embedding" not in GraphConfig(params_file=YAML, models=("face", "emotion")).overrides_for(BY_KEY["emotion"])
    assert GraphConfig(params_file=YAML).overrides_for(BY_KEY["face"]) == {}  # nothing chosen: the YAML's values


def test_precheck_names_a_missing_model():
    assert precheck(BY_KEY["emotion"], {}) is None  # the committed model
    reason = precheck(BY_KEY["emotion"], {"model_path": "/nonexistent/m.tflite"})
    assert "not found" in reason and "model_path" in reason
