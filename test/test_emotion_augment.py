"""The emotion model's training augmentation (training/emotion/augment.py); torch is a training
dependency, so this runs in the training venv (training/requirements.txt) and is skipped in the runtime one."""
import pytest

torch = pytest.importorskip("torch", reason="training-only dependency (training/requirements.txt)")
from training.emotion.augment import augment  # noqa: E402


def _faces(n=64):
    g = torch.Generator().manual_seed(0)
    return torch.rand((n, 1, 48, 48), generator=g)


def _pixels_kept(x, out):
    """Per face: is out x itself, or its mirror, moved by whole pixels (interior compared)?"""
    kept = torch.zeros(len(x), dtype=torch.bool)
    for i in range(len(x)):
        for src in (x[i, 0], x[i, 0].flip(1)):
            for dy in range(-8, 9):
                for dx in range(-8, 9):
                    moved = torch.roll(src, (-dy, -dx), (0, 1))[10:38, 10:38]
                    if torch.allclose(out[i, 0, 10:38, 10:38], moved, atol=1e-5):
                        kept[i] = True
                        break
                if kept[i]:
                    break
    return kept


def test_sharp_faces_keep_their_pixels_and_the_others_are_resampled():
    x = _faces()
    plain = dict(rot_deg=10.0, scale=0.1, shift=0.08, erase_p=0.0, photometric=0.0)
    sharp = augment(x, torch.Generator().manual_seed(1), sharp_p=1.0, **plain)
    assert _pixels_kept(x, sharp).all()
    resampled = augment(x, torch.Generator().manual_seed(1), **plain)
    assert _pixels_kept(x, resampled).float().mean() < 0.1
    half = _pixels_kept(x, augment(x, torch.Generator().manual_seed(2), sharp_p=0.5, **plain))
    assert 0.25 < half.float().mean() < 0.75


def test_without_sharp_faces_the_random_stream_is_unchanged():
    x = _faces(8)
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x, torch.Generator().manual_seed(3), sharp_p=0.0)
    assert torch.equal(a, b)
