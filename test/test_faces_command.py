"""`sentin-ros faces`: the face stage on a user's image, folder or video, as text or JSON lines."""
import json

import cv2

from sentin_ros.media.synthetic import face_canvas, write_clip
from sentin_ros.tools import faces


def _json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_still_image_json_and_annotated_output(tmp_path, capsys):
    img, centres = face_canvas([60, 90, 130], (960, 540))
    path = tmp_path / "three.png"
    cv2.imwrite(str(path), img)
    out = tmp_path / "annotated.png"
    assert faces.main([str(path), "--json", "--out", str(out)]) == 0
    (record,) = _json_lines(capsys)
    assert record["frame"] == 0 and len(record["faces"]) == 3
    for face in record["faces"]:
        x, y, w, h = face["box"]
        assert min(abs(x + w / 2 - cx) + abs(y + h / 2 - cy) for cx, cy in centres) < w
        assert 0.9 < face["quality"]["presence"] <= 1.0 and 0.0 < face["score"] <= 1.0
        assert set(face) >= {"id", "box", "score", "quality"}
    assert len({f["id"] for f in record["faces"]}) == 3
    written = cv2.imread(str(out))
    assert written is not None and written.shape == img.shape and (written != img).any()


def test_video_one_line_per_frame_with_stable_ids(tmp_path, capsys):
    clip = write_clip(str(tmp_path / "clip.mp4"), n_frames=60, leave=False)
    assert faces.main([clip, "--json"]) == 0
    records = _json_lines(capsys)
    assert [r["frame"] for r in records] == list(range(60))
    assert all(len(r["faces"]) == 1 for r in records)
    assert len({r["faces"][0]["id"] for r in records}) == 1


def test_params_file_is_the_node_configuration(tmp_path, capsys):
    """The same YAML as the face node: max_faces: 1 keeps one face of three."""
    img, _ = face_canvas([60, 90, 130], (960, 540))
    cv2.imwrite(str(tmp_path / "a.png"), img)
    params = tmp_path / "p.yaml"
    params.write_text("/**/face_node:\n  ros__parameters:\n    max_faces: 1\n")
    assert faces.main([str(tmp_path), "--json", "--params", str(params)]) == 0
    (record,) = _json_lines(capsys)
    assert len(record["faces"]) == 1 and record["source"] == "a.png"
