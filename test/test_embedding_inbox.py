"""The stress node's inbox: a FaceArray waits for its faces' embeddings from the emotion node."""
from types import SimpleNamespace

import numpy as np

from sentin_ros.ros.embedding_inbox import EmbeddingInbox


def _header(sec: int):
    return SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=0))


def _emotion(sec: int, face_id: int, size: int = 256):
    return SimpleNamespace(header=_header(sec), face_id=face_id, embedding=np.full(size, face_id, np.float32), confidence=0.8)


def _faces(sec: int):
    return SimpleNamespace(header=_header(sec))


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_frame_is_released_once_every_face_has_its_embedding():
    inbox = EmbeddingInbox()
    frame = _faces(1)
    assert inbox.hold(frame, [1, 2], wait=10.0) == []
    assert inbox.put(_emotion(1, 1)) == [] and inbox.waiting() == 1
    assert inbox.put(_emotion(1, 2)) == [frame] and inbox.waiting() == 0
    got = inbox.take(frame.header)
    assert set(got) == {1, 2} and got[2][0][0] == 2.0 and got[1][1] == 0.8


def test_embeddings_that_come_first_are_kept_for_their_frame():
    inbox = EmbeddingInbox()
    inbox.put(_emotion(5, 3))
    frame = _faces(5)
    assert inbox.hold(frame, [3], wait=10.0) == [frame]


def test_deadline_releases_a_partial_frame_and_a_complete_one_drops_older_ones():
    clock = _Clock()
    inbox = EmbeddingInbox(clock=clock)
    old, new = _faces(1), _faces(2)
    inbox.hold(old, [1], wait=5.0)
    inbox.hold(new, [1], wait=6.0)
    clock.t = 4.0
    assert inbox.expired() == []
    clock.t = 5.5
    assert inbox.expired() == [old] and inbox.take(old.header) == {}
    inbox.hold(old, [1], wait=5.0)  # again pending, older than `new`
    assert inbox.put(_emotion(2, 1)) == [new]
    assert inbox.waiting() == 0 and inbox.dropped == 1


def test_emotions_without_an_embedding_are_ignored():
    inbox = EmbeddingInbox()
    frame = _faces(1)
    inbox.hold(frame, [1], wait=10.0)
    assert inbox.put(_emotion(1, 1, size=0)) == [] and inbox.waiting() == 1


def test_the_wait_grows_while_embeddings_come_late_and_returns_once_none_come():
    clock = _Clock()
    inbox = EmbeddingInbox(max_wait=2.0, clock=clock)
    assert inbox.current_wait(0.2) == 0.2
    inbox.hold(_faces(1), [1], wait=0.2)
    clock.t = 0.3
    assert len(inbox.expired()) == 1  # given up on after 0.2 s: the CNN ran in the stress node
    clock.t = 0.6
    assert inbox.put(_emotion(1, 1)) == []  # 0.6 s late: too late for its frame, but remembered
    assert abs(inbox.current_wait(0.2) - 0.9) < 1e-9  # 1.5 x 0.6 s
    frame = _faces(2)
    inbox.hold(frame, [1], wait=0.2)
    clock.t = 1.2
    assert inbox.expired() == []  # 0.6 s on: still waiting
    assert inbox.put(_emotion(2, 1)) == [frame]
    clock.t = 10.0
    assert inbox.current_wait(0.2) == 0.2  # nothing arrived for 5 s (e.g. the emotion node inactive)
    inbox.hold(_faces(3), [1], wait=0.2)
    inbox.put(_emotion(3, 1))  # arrives as it is held
    clock.t = 30.0
    inbox.hold(_faces(4), [1], wait=0.2)
    clock.t = 60.0  # an embedding a minute late does not make frames wait more than max_wait
    inbox.expired()
    inbox.put(_emotion(4, 1))
    assert inbox.current_wait(0.2) == 2.0
