"""Time steps for the stress model: sequences rendered frame by frame, summarised into 0.25 s steps.

The stress model reads 15 *steps*; a step is the mean of the frames of one face within a slice of
`step_seconds` (0.25 s: the window covers 3.75 s), exactly as `sentin_ros.inference.horizon`
summarises a live face (the test test_stress_core.py checks that the two agree). Training data are
made the same way:

  1. drivers are sampled per step (`generator.sample_drivers`: profiles and noise in steps);
  2. they are interpolated to frames (linear between step centres) at a frame rate drawn per chunk
     from `GeneratorParams.fps_range` (12-30 fps: 3-8 frames per step);
  3. `generator.render` renders the frames (blinks, talking at 3-8 Hz, head motion, faces shown run
     at frame rate) and each step is the mean of its frames;
  4. the target is `generator.target_from_drivers` on the step means of the frame drivers.

Numpy-only (the tests run it in the runtime venv).
"""
from __future__ import annotations

import copy

import numpy as np

from . import generator as gen


def frames_per_step(fps: float, step_seconds: float = gen.STEP_SECONDS) -> int:
    return max(1, int(round(fps * step_seconds)))


def upsample(step_drivers: np.ndarray, k: int) -> np.ndarray:
    """(n, S, 5) per-step drivers -> (n, S * k, 5) per-frame drivers (linear between step centres)."""
    d = np.asarray(step_drivers, np.float64)
    s = d.shape[1]
    u = np.clip((np.arange(s * k) + 0.5) / k - 0.5, 0.0, s - 1)
    i0 = np.minimum(np.floor(u).astype(int), s - 1)
    i1 = np.minimum(i0 + 1, s - 1)
    f = (u - i0)[None, :, None]
    return d[:, i0] * (1 - f) + d[:, i1] * f


def to_steps(x: np.ndarray, k: int) -> np.ndarray:
    """(n, S * k, F) frames -> (n, S, F) step means."""
    n, length, f = x.shape
    return x.reshape(n, length // k, k, f).mean(2)


def render_steps(rng: np.random.Generator, step_drivers: np.ndarray, bank, stats, params=None, fps: float = gen.FPS,
                 nuisance=None, kinds=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-step drivers -> (x (n, S, 268) float32 step means, target drivers (n, S, 5) = step means of the frame drivers)."""
    p = copy.deepcopy(params or gen.GeneratorParams())
    k = frames_per_step(fps, p.step_seconds)
    p.fps = k / p.step_seconds  # the frame rate that gives whole frames per step
    n = len(step_drivers)
    fd = upsample(step_drivers, k)
    nz = nuisance or gen.Nuisance.sample(rng, n, p.geometry, kinds, p.embedding)
    x = gen.render(rng, fd, bank, stats, p, nz).x
    return to_steps(x, k).astype(np.float32), to_steps(fd, k)


def generate_steps(rng: np.random.Generator, n: int, bank, stats, params=None, scenario: str | None = None,
                   fps: float = gen.FPS):
    """(x (n, 15, 268) float32 steps, target (n,), step drivers (n, 15, 5), scenario names)."""
    p = params or gen.GeneratorParams()
    drivers, kinds = gen.sample_drivers(rng, n, p, scenario)
    x, d = render_steps(rng, drivers, bank, stats, p, fps, kinds=kinds)
    return x, gen.target_from_drivers(d, p.target).astype(np.float32), d, kinds


def hold_augment(rng: np.random.Generator, drivers: np.ndarray, x: np.ndarray, frac: float, max_share: float = 0.4) -> None:
    """In place: for `frac` of the sequences, some steps (up to max_share) had no good frame and hold
    the previous step, as `horizon.StepHorizon` fills them (drivers likewise, so the target matches)."""
    for i in np.flatnonzero(rng.random(len(x)) < frac):
        m = rng.random(x.shape[1]) < rng.uniform(0.05, max_share)
        m[0] = False
        for t in np.flatnonzero(m):
            x[i, t] = x[i, t - 1]
            drivers[i, t] = drivers[i, t - 1]
