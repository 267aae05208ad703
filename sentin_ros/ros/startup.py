"""How the launch file drives the nodes' start-up, as plain logic (ROS-free, tested without launch).

Each node is driven through its start-up exactly once: configure every perception node, activate
each one once its first configure succeeded, then configure the source (if any) once every
started perception node is active (or has failed to start: it is left out, logged), and activate
it once configured. After a node's start-up is over, its transitions belong to the user: a
by-hand `deactivate`/`activate`, `cleanup`/`configure` is never answered by re-driving it (the
old launch file re-configured the already-active source on every activation of the face node,
which killed it, and re-activated a node cleaned up and configured by hand).

launch/sentin.launch.py feeds it the nodes' transition events (launch_ros OnStateTransition)
and turns what it returns into ChangeState events.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SOURCE = "source"

#: (start, goal) labels of a TransitionEvent -> what it means for a start-up in progress
_OUTCOMES = {
    ("configuring", "inactive"): ("configure", True),
    ("configuring", "unconfigured"): ("configure", False),
    ("activating", "active"): ("activate", True),
    ("activating", "inactive"): ("activate", False),
}


@dataclass
class StartupPlan:
    keys: tuple[str, ...]  # node keys in pipeline order; "source" (if present) waits for the others
    required: str = "face"  # without it active the source is not started
    phase: dict[str, str] = field(default_factory=dict)  # key -> configuring | activating | active | failed | waiting
    log: list[str] = field(default_factory=list)

    def begin(self) -> list[tuple[str, str]]:
        """The first requests: configure every perception node."""
        requests = []
        for key in self.keys:
            if key == SOURCE:
                self.phase[key] = "waiting"
            else:
                self.phase[key] = "configuring"
                requests.append((key, "configure"))
        return requests + self._source_requests()

    def on_transition(self, key: str, start: str, goal: str) -> list[tuple[str, str]]:
        """A node reported a transition (start and goal state labels); returns the requests to make."""
        outcome = _OUTCOMES.get((start, goal))
        phase = self.phase.get(key)
        if outcome is None or phase not in ("configuring", "activating"):
            return []  # not part of a start-up in progress (e.g. by hand, later): not ours to answer
        step, ok = outcome
        if (phase, step) not in (("configuring", "configure"), ("activating", "activate")):
            return []
        if not ok:
            self.phase[key] = "failed"
            self.log.append(f"{key}: {step} failed; left out")
            return self._source_requests()
        if step == "configure":
            self.phase[key] = "activating"
            return [(key, "activate")]
        self.phase[key] = "active"
        self.log.append(f"{key}: active")
        return self._source_requests()

    def _source_requests(self) -> list[tuple[str, str]]:
        if self.phase.get(SOURCE) != "waiting":
            return []
        others = [k for k in self.keys if k != SOURCE]
        if any(self.phase.get(k) in ("configuring", "activating") for k in others):
            return []
        if self.phase.get(self.required) != "active":
            self.phase[SOURCE] = "failed"
            self.log.append(f"source: not started ({self.required} is not active)")
            return []
        self.phase[SOURCE] = "configuring"
        return [(SOURCE, "configure")]

    def done(self) -> bool:
        """Every start-up is over (active or failed)."""
        return all(p in ("active", "failed") for p in self.phase.values())
