"""The bag evaluation's report shows the stress trace per face with its confidence."""
from sentin_ros.tools.eval import metrics, report


def _frames():
    out = []
    for i in range(40):
        faces = [{"face_id": 1, "stress": {"level": 0.1 + 0.01 * i, "confidence": min(1.0, i / 15)}},
                 {"face_id": 2, "stress": None if i < 10 else {"level": 0.5, "confidence": 0.4}}]
        out.append({"stamp_ns": i * 66_666_667, "faces": faces})
    return out


def test_traces_carry_the_stress_confidence_and_the_report_plots_it():
    tr = metrics.traces(_frames())
    assert tr["1"]["stress_confidence"][15] == 1.0 and tr["2"]["stress_confidence"][:10] == [None] * 10
    png = report.fig_stress_traces(tr)
    assert png and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "stress_traces" in report.figures({"traces": tr})
    assert report.fig_stress_traces({"3": {"t": [0.0], "stress": [None], "stress_confidence": [None]}}) is None
