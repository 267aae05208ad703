"""The aligned crops' warp: a downscaled region is averaged, not sampled, and lands where the
transform says (no half-pixel shift), for grey and colour frames."""
import math

import cv2
import numpy as np
import pytest

from sentin_ros.core.alignment import MAX_SUPERSAMPLE, warp_crop

# Crop pixel u is the centre of the frame's pixels 4u .. 4u+3: x = 4u + 1.5.
QUARTER = np.array([[0.25, 0.0, -0.375], [0.0, 0.25, -0.375]])


@pytest.fixture
def noise():
    return np.random.default_rng(7).integers(0, 256, (240, 320), dtype=np.uint8)


@pytest.mark.parametrize("k", [2, 4])
def test_a_four_times_downscale_is_the_block_average(noise, k):
    block_mean = cv2.resize(noise[:192, :192], (48, 48), interpolation=cv2.INTER_AREA).astype(int)
    averaged = warp_crop(noise, QUARTER, 48, k).astype(int)
    assert np.abs(averaged - block_mean).max() <= 1  # rounding of the two passes
    sampled = warp_crop(noise, QUARTER, 48, 1).astype(int)
    assert np.abs(sampled - block_mean).mean() > 20  # what a sampled crop of fine detail looks like


def test_the_default_averages(noise):
    block_mean = cv2.resize(noise[:192, :192], (48, 48), interpolation=cv2.INTER_AREA).astype(int)
    assert MAX_SUPERSAMPLE >= 2 and np.abs(warp_crop(noise, QUARTER, 48).astype(int) - block_mean).max() <= 1


def test_an_upscale_or_unit_scale_is_plain_bilinear(noise):
    m = np.array([[2.0, 0.0, -10.0], [0.0, 2.0, -20.0]])
    plain = cv2.warpAffine(noise, m, (48, 48), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(warp_crop(noise, m, 48), plain)


def _centroid(img: np.ndarray) -> np.ndarray:
    w = img.astype(float) - np.median(img)
    w[w < 0] = 0
    ys, xs = np.mgrid[:img.shape[0], :img.shape[1]]
    return np.array([(xs * w).sum(), (ys * w).sum()]) / w.sum()


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_point_lands_where_the_transform_puts_it(k, channels):
    """A blob at frame point p ends at m·p in the crop, rotated and downscaled 3.7×."""
    p = np.array([171.3, 122.6])
    ys, xs = np.mgrid[:240, :320]
    blob = (40 + 200 * np.exp(-((xs - p[0]) ** 2 + (ys - p[1]) ** 2) / (2 * 7.0 ** 2))).astype(np.uint8)
    frame = blob if channels == 1 else np.dstack([blob] * 3)
    a, s = math.radians(17.0), 1 / 3.7
    m = np.array([[s * math.cos(a), -s * math.sin(a), 0.0], [s * math.sin(a), s * math.cos(a), 0.0]])
    m[:, 2] = np.array([30.0, 26.0]) - m[:, :2] @ p
    crop = warp_crop(frame, m, 64, k)
    assert crop.shape == ((64, 64) if channels == 1 else (64, 64, 3))
    got = _centroid(crop if channels == 1 else crop[..., 1])
    np.testing.assert_allclose(got, (30.0, 26.0), atol=0.1)
