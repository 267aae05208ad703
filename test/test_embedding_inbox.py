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


def test_a_frame_is_released_once_every_face_has_its_embedding():
    inbox = EmbeddingInbox()
    frame = _faces(1)
    assert inbox.hold(frame, [1, 2], deadline=10.0) == []
    assert inbox.put(_emotion(1, 1)) == [] and inbox.waiting() == 1
    assert inbox.put(_emotion(1, 2)) == [frame] and inbox.waiting() == 0
    got = inbox.take(frame.header)
    assert set(got) == {1, 2} and got[2][0][0] == 2.0 and got[1][1] == 0.8


def test_embeddings_that_come_first_are_kept_for_their_frame():
    inbox = EmbeddingInbox()
    inbox.put(_emotion(5, 3))
    frame = _faces(5)
    assert inbox.hold(frame, [3], deadline=10.0) == [frame]


def test_deadline_releases_a_partial_frame_and_a_complete_one_drops_older_ones():
    inbox = EmbeddingInbox()
    old, new = _faces(1), _faces(2)
    inbox.hold(old, [1], deadline=5.0)
    inbox.hold(new, [1], deadline=6.0)
    assert inbox.expired(4.0) == []
    assert inbox.expired(5.5) == [old] and inbox.take(old.header) == {}
    inbox.hold(old, [1], deadline=5.0)  # again pending, older than `new`
    assert inbox.put(_emotion(2, 1)) == [new]
    assert inbox.waiting() == 0 and inbox.dropped == 1


def test_emotions_without_an_embedding_are_ignored():
    inbox = EmbeddingInbox()
    frame = _faces(1)
    inbox.hold(frame, [1], deadline=10.0)
    assert inbox.put(_emotion(1, 1, size=0)) == [] and inbox.waiting() == 1
