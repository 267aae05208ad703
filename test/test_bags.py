"""`sentin-ros bag make` and the bag reader on small generated bags (rosbags, real files)."""
import json

import cv2
import numpy as np
import pytest
import yaml

from sentin_ros.inference.emotion import CLASSES
from sentin_ros.tools import bags
from sentin_ros.tools.bags import cli as bag_cli


def make(*args):
    return bag_cli.main(["make", *map(str, args), "--quiet"])


def fail(capsys, argv) -> str:
    """Runs the CLI, expects a clean failure (exit status 2, one-line message, no traceback)."""
    with pytest.raises(SystemExit) as exc:
        bag_cli.main(argv)
    assert exc.value.code == bag_cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def synthetic_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("bags") / "syn"
    assert make(path, "--synthetic", 4, "--rate", 10) == 0
    return path


def tiny_fer_npz(path, n=3):
    """A FER2013-shaped .npz whose faces are the astronaut's face (48×48), so no ../shared is needed."""
    from sentin_ros.media.synthetic import astronaut_rgb

    gray = cv2.cvtColor(astronaut_rgb(), cv2.COLOR_RGB2GRAY)
    face = cv2.resize(gray[40:220, 135:315], (48, 48), interpolation=cv2.INTER_AREA)
    np.savez(path, pixels=np.stack([face] * n), label=np.array([3, 6, 3][:n], np.int8), usage=np.full(n, 2, np.uint8))
    return path


def test_make_synthetic_bag_is_a_real_rosbag2(synthetic_bag):
    meta = yaml.safe_load((synthetic_bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 8 and meta["storage_identifier"] == "mcap"
    topics = {t["topic_metadata"]["name"]: t["topic_metadata"] for t in meta["topics_with_message_count"]}
    assert topics[bags.IMAGE_TOPIC]["type"] == "sensor_msgs/msg/Image"
    assert topics[bags.INFO_TOPIC]["type"] == "sensor_msgs/msg/CameraInfo"
    store = bags.typestore()  # the hashes ROS 2 Jazzy tools check
    assert topics[bags.IMAGE_TOPIC]["type_description_hash"] == store.hash_rihs01("sensor_msgs/msg/Image")
    assert list(synthetic_bag.glob("*.mcap"))

    with bags.BagReader(synthetic_bag) as reader:
        frames = list(reader)
        assert reader.info.frames == 4 and reader.label_topic is None
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert frames[0].image.shape == (480, 640, 3) and frames[0].encoding == "bgr8"
    stamps = [f.stamp_ns for f in frames]
    assert stamps[0] == int(bags.DEFAULT_START_S * 1e9) and np.allclose(np.diff(stamps), 1e8)
    assert all(f.stamp_ns == f.bag_ns for f in frames)  # header stamp == bag time
    from sentin_ros.media.synthetic import synthetic_clip

    first = next(synthetic_clip(4, (640, 480)))
    assert np.array_equal(frames[0].image, first.bgr)


def test_camera_info_matches_image(synthetic_bag):
    from rosbags.rosbag2 import Reader

    store = bags.typestore()
    with Reader(synthetic_bag) as r:
        infos = [store.deserialize_cdr(raw, c.msgtype) for c, ns, raw in r.messages() if c.topic == bags.INFO_TOPIC]
    assert len(infos) == 4
    assert (infos[0].width, infos[0].height) == (640, 480) and infos[0].k[0] == 640.0 and infos[0].k[2] == 320.0


def test_labelled_set_labels_share_the_image_stamp(tmp_path):
    npz = tiny_fer_npz(tmp_path / "fer.npz")
    out = tmp_path / "fer.db3"  # the suffix picks sqlite3
    assert make(out, "--npz", npz, "--split", "PrivateTest", "--face-size", 96, "--canvas", 192, "--gap-frames", 1) == 0
    bag = tmp_path / "fer"
    assert list(bag.glob("*.db3"))
    with bags.BagReader(bag) as reader:
        assert reader.label_topic == bags.LABEL_TOPIC and len(reader.labels) == 3
        frames = list(reader)
    assert len(frames) == 6  # one empty gap frame before each face
    labelled = [f for f in frames if f.label is not None]
    assert [f.index for f in labelled] == [1, 3, 5]
    assert [f.label["name"] for f in labelled] == [CLASSES[3], CLASSES[6], CLASSES[3]]
    for f in labelled:
        stamp = f.label["stamp"]
        assert bags.stamp_ns(stamp["sec"], stamp["nanosec"]) == f.stamp_ns
        assert f.image.shape == (192, 192) and f.encoding == "mono8"
        assert f.label["index"] in (0, 1, 2) and f.label["source"] == "fer2013:PrivateTest"


def test_video_and_image_folder_sources(tmp_path):
    from sentin_ros.media.synthetic import write_clip

    video = write_clip(str(tmp_path / "clip.mp4"), n_frames=3, size=(320, 240), fps=12.0)
    assert make(tmp_path / "v", "--video", video) == 0
    with bags.BagReader(tmp_path / "v") as r:
        assert r.info.frames == 3 and abs(r.info.rate_hz - 12.0) < 0.1  # the video's own fps
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.full((60, 80, 3), 40 * i, np.uint8))
    assert make(tmp_path / "i", "--images", folder, "--rate", 5) == 0
    with bags.BagReader(tmp_path / "i") as r:
        frames = list(r)
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 40, 80]


def test_make_errors_are_clean(tmp_path, capsys, synthetic_bag):
    assert "not found" in fail(capsys, ["make", str(tmp_path / "x"), "--video", str(tmp_path / "missing.mp4")])
    assert "already exists" in fail(capsys, ["make", str(synthetic_bag), "--synthetic", "2"])
    assert "no images" in fail(capsys, ["make", str(tmp_path / "y"), "--images", str(tmp_path)])


def test_read_errors_are_clean(tmp_path, capsys, synthetic_bag):
    assert "no bag at" in fail(capsys, ["info", str(tmp_path / "nothing")])
    (tmp_path / "plain").mkdir()
    assert "not a rosbag2 directory" in fail(capsys, ["eval", str(tmp_path / "plain")])
    err = fail(capsys, ["eval", str(synthetic_bag), "--image-topic", "/no/such/topic"])
    assert "/no/such/topic" in err and bags.IMAGE_TOPIC in err  # says which image topics there are


def corrupt_bag(path):
    """A bag whose second image message is not valid CDR."""
    store = bags.typestore()
    with bags.BagWriter(path) as w:
        good = bags.image_msg(store, np.zeros((8, 8, 3), np.uint8), 1_000, "cam")
        w.write(bags.IMAGE_TOPIC, good, 1_000)
        w.write_raw(bags.IMAGE_TOPIC, "sensor_msgs/msg/Image", b"\x00\x01\x00\x00\xff\xff\xff\x7fgarbage", 2_000)
    return path


@pytest.mark.parametrize("mode", ["--deterministic", "--realtime"])
def test_corrupt_message_gives_a_clear_error(tmp_path, capsys, mode):
    bag = corrupt_bag(tmp_path / "bad")
    err = fail(capsys, ["eval", str(bag), mode, "--out", str(tmp_path / "rep"), "--quiet"])
    assert "corrupt" in err and "#1" in err and bags.IMAGE_TOPIC in err


def test_info_lists_topics(synthetic_bag, capsys):
    assert bag_cli.main(["info", str(synthetic_bag)]) == 0
    out = capsys.readouterr().out
    first = json.loads(out[: out.index("}\n{") + 1])
    assert first["counts"][bags.IMAGE_TOPIC] == 4


def test_fer_face_frame_on_grey_or_on_the_face_s_own_edge():
    face = np.random.default_rng(2).integers(0, 256, (48, 48), dtype=np.uint8)
    grey, edge = bags.fer_face_frame(face), bags.fer_face_frame(face, background=None)
    assert grey.shape == edge.shape == (384, 384)
    np.testing.assert_array_equal(grey[96:288, 96:288], edge[96:288, 96:288])  # the same face, placed alike
    assert (grey[:96] == 128).all() and (grey[:, :96] == 128).all()
    np.testing.assert_array_equal(edge[0, 96:288], edge[96, 96:288])  # the canvas repeats the face's top row
    np.testing.assert_array_equal(edge[200, :96], np.full(96, edge[200, 96]))  # and its left column
