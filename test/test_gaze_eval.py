"""`sentin-ros gaze eval` on a generated folder (ROS-free, no shared data).

The folder: the astronaut's face (sentin_ros.media.synthetic.place_face) at random places of a
640x480 frame, slightly scaled and rolled; each image's "target" is a known linear function of
where the face is (u, v in [0, 1] -> target (u, v) on the screen). The eyes never move, so this
checks the tool's machinery (face stage -> model -> protocols -> baselines -> JSON contract) and
that a calibration learns a mapping the features carry, not gaze accuracy.
"""
import csv
import json

import cv2
import numpy as np
import pytest

from sentin_ros.inference.gaze_protocols import calibration_sets, parse_protocol
from sentin_ros.tools import gaze_eval


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from sentin_ros.media.synthetic import astronaut_rgb, place_face

    out = tmp_path_factory.mktemp("gaze_eval")
    rgb = astronaut_rgb()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(20):
        u, v = rng.uniform(0, 1, 2)
        img = place_face(rgb, (640, 480), (200 + 240 * u, 170 + 140 * v), rng.uniform(0.85, 1.0), rng.uniform(-6, 6))
        cv2.imwrite(str(out / f"f{i:03d}.jpg"), img)
        rows.append((f"f{i:03d}.jpg", round(u * 1920), round(v * 1080)))  # pixels of a 1920x1080 screen
    with open(out / "targets.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "x", "y"])
        w.writerows(rows)
    return out


def test_json_contract_and_protocols(folder, capsys):
    rc = gaze_eval.main(["eval", "--images", str(folder), "--targets", str(folder / "targets.csv"),
                         "--calib", "uncalibrated,corners5,corners9,random5,12", "--repeats", "3", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["images"] == 20 and report["without_face_or_target"] == 0
    res = report["results"]
    assert set(res) == {"uncalibrated", "corners5", "corners9", "random5", "12"}
    for name, r in res.items():
        for key in ("mean", "median", "baseline_centre", "baseline_ridge"):
            assert key in r
        assert r["mean"] > 0 and r["baseline_centre"] > 0 and r["px"]["mean"] > r["mean"]
        if name == "uncalibrated":
            assert r["baseline_ridge"] is None and r["evaluated_samples"] == 20
        else:
            assert r["baseline_ridge"] > 0 and r["loo_residual"] is not None
    assert res["corners5"]["calibration_samples"] == 5 and res["corners5"]["evaluated_samples"] == 15
    assert res["random5"]["repeats"] == 3 and res["12"]["calibration_samples"] == 12
    # the targets follow the face position, which the calibration features carry
    for name in ("corners5", "corners9", "12"):
        assert res[name]["mean"] < 0.5 * res[name]["baseline_centre"], (name, res[name])
    assert res["12"]["mean"] < res["corners5"]["mean"] + 0.02


def test_sequential_frames_use_the_history(tmp_path, capsys):
    """A recording: the face glides between 10 places and holds each for 6 frames, the target
    follows it; the model and the calibration features see the history."""
    from sentin_ros.media.synthetic import astronaut_rgb, place_face

    rgb = astronaut_rgb()
    rows = []
    places = np.random.default_rng(3).uniform(0.2, 0.8, (10, 2))
    path = []
    for k in range(10):  # glide to the next place over 6 frames (a tracked face does not jump), hold it for 6
        start = places[k - 1] if k else places[0]
        path += [start + (places[k] - start) * (j + 1) / 6 for j in range(6)] + [places[k]] * 6
    for i, (u, v) in enumerate(path):
        cv2.imwrite(str(tmp_path / f"s{i:03d}.jpg"), place_face(rgb, (640, 480), (200 + 240 * u, 170 + 140 * v), 0.9, 0.0))
        rows.append(f"s{i:03d}.jpg,{u:.4f},{v:.4f}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    rc = gaze_eval.main(["eval", "--images", str(tmp_path), "--targets", str(tmp_path / "t.csv"), "--calib", "uncalibrated,9",
                         "--sequential", "--fps", "30", "--repeats", "3", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["mode"] == "sequential" and report["images"] == 120
    r = report["results"]["9"]
    # the 5-frame feature average lags the glides, so this is a check of the machinery, not of accuracy
    assert r["evaluated_samples"] == 111 and r["mean"] < r["baseline_centre"] and r["mean"] < report["results"]["uncalibrated"]["mean"], r


def test_text_output_and_errors(folder, capsys, tmp_path):
    assert gaze_eval.main(["eval", "--images", str(folder), "--targets", str(folder / "targets.csv"), "--calib", "corners5"]) == 0
    out = capsys.readouterr().out
    assert "corners5" in out and "centre" in out
    assert gaze_eval.main(["eval", "--images", str(folder), "--targets", str(folder / "targets.csv"), "--calib", "banana"]) == 2
    one = tmp_path / "one.csv"
    one.write_text("f000.jpg,0.5,0.5\n")
    assert gaze_eval.main(["eval", "--images", str(folder), "--targets", str(one)]) == 1


def test_protocol_parsing_and_selection():
    assert parse_protocol("corners9") == ("corners", 9) and parse_protocol("random-25") == ("random", 25)
    assert parse_protocol("7") == ("random", 7) and parse_protocol("uncalibrated") == ("none", 0)
    with pytest.raises(ValueError):
        parse_protocol("random2")
    grid = np.array([(x, y) for x in np.linspace(0, 1, 11) for y in np.linspace(0, 1, 11)])
    (c5,) = calibration_sets("corners5", grid)
    np.testing.assert_allclose(grid[c5], [(0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9), (0.5, 0.5)], atol=1e-9)
    r = calibration_sets("random5", grid, repeats=4, seed=1)
    assert len(r) == 4 and all(len(set(s)) == 5 for s in r) and r == calibration_sets("random5", grid, repeats=4, seed=1)


def test_registered_in_the_cli():
    from sentin_ros import cli

    assert cli.HOOKS["gaze"] == "sentin_ros.tools.gaze_eval"
