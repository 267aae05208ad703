"""Sequence generator for the stress model: a documented model of *visible facial strain*.

There is no labelled stress video here, so the stress TCN learns a function that this file defines.
Every training sequence is 15 frames (0.6 s at the assumed 25 fps) × 268 features:

    [0:256]   the emotion model's 256-d embedding of a real FER2013 Training face
    [256:268] the 12 geometry metrics, in `sentin_ros.core.features.GEOMETRY_NAMES` order

## Latent drivers

Five drivers, each in [0, 1] per frame (`DRIVERS`), with temporal dynamics over the 15 frames
(profiles: steady, onset, decay, 1-2 frame spike; plus AR(1) noise; see `driver_trajectory`):

    au4              sustained brow lowering / knitting (FACS AU4, "corrugator")
    au12_suppression a suppressed or absent lip-corner pull (AU12), corners pulled down / lips pressed
    blink_rate       raised blink rate and eyelid tension
    head_motion      head micro-motion (small, jittery head rotations)
    neg_arousal      negative, high-arousal expression (anger, fear, disgust, surprise, distress)

plus nuisance factors that are *not* strain and do not change the target: the person (which real
face, their neutral geometry), relaxed smiling (`smile`), talking (mouth opening), head pose.

## Target (`target_from_drivers`)

    s(t)  = sum_k w_k * d_k(t)                                  per-frame strain, w = TargetParams.weights
    S     = sum_t a_t s(t) / sum_t a_t,  a_t = exp(-(14 - t) / tau)   recency-weighted window mean
    level = 1 / (1 + exp(-gain * (S - centre)))

Monotone non-decreasing in every driver at every frame (all w_k > 0, a_t > 0, gain > 0). Because S
averages the whole window, every driver at full strength on the newest frame only gives level 0.16,
on the newest 3 frames 0.74, held for the whole window ~1. With the default parameters: all drivers
0 -> 0.04; all 0.15 (calm) -> 0.18; one of au4 / neg_arousal fully on -> 0.43 (ELEVATED);
au4 + neg_arousal -> 0.94.

## Observations (`render`)

Embedding: each frame shows a real FER2013 Training face chosen from the pool of its class; the
class is drawn from a softmax over `EmbeddingParams` logits that depend on the drivers (anger by
neg_arousal and au4, fear/surprise by neg_arousal, sadness by au12_suppression, happy by `smile`
and against au12_suppression and neg_arousal, neutral when calm). The same face is held for runs
(geometric lengths, mean `run_mean` frames; a new face is also drawn when the class distribution
has moved by more than `redraw_tv`), consecutive faces cross-fade over `blend_frames` frames, and
every frame gets Gaussian jitter (`jitter` × the bank's per-dimension std), like a live camera.

Geometry: a per-sequence person baseline (neutral FER median + `person_spread` × the between-person
std, both measured on FER2013 faces by measure_geometry.py), moved by the drivers with effect sizes
taken from measured class differences (angry - neutral brows, happy - neutral lip corners, ...)
times gains; the eye, brow and mouth metrics also follow the class of the face shown
(EXPRESSION_CHANNELS, measured class differences); plus per-frame measurement noise from the
frame-to-frame jitter measured on the real clips. Blinks are events (onset probability per frame
rises with blink_rate) that dip both EARs for 3-5 frames, and blink_rate also narrows the eyes
(eyelid tension); `blink` is then recomputed from the EARs with the core's rule (EAR < 0.18).
head_motion (deg/s) is the norm of a jittery zero-mean angular velocity scaled by the head_motion
driver, plus (nuisance) a smooth deliberate head turn in some sequences, plus heavy-tailed
pose-estimation jitter as measured on the steady clip; yaw/pitch integrate the rotations. Talking
(nuisance) opens and closes the mouth at 3-6 Hz.

Everything is numpy-only (the tests run it in the runtime venv) and fully seeded. All parameters
live in `GeneratorParams` (dumped to JSON next to the model by train.py and printed in the card).
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field

import numpy as np

FRAMES = 15  # steps per window (the model's input length)
STEP_SECONDS = 0.25  # one step = the mean of the frames in 0.25 s: 15 steps = 3.75 s
FPS = 25.0
EMBED_DIM = 256
GEOMETRY_NAMES = (  # == sentin_ros.core.features.GEOMETRY_NAMES (a test checks it)
    "ear_left", "ear_right", "blink", "brow_lowering", "brow_knit", "lip_corner_pull",
    "mouth_open", "mouth_width", "lip_press", "head_motion", "head_yaw_norm", "head_pitch_norm",
)
BLINK_EAR = 0.18  # == sentin_ros.core.features.BLINK_EAR
FEATURES = EMBED_DIM + len(GEOMETRY_NAMES)
DRIVERS = ("au4", "au12_suppression", "blink_rate", "head_motion", "neg_arousal")
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
G = {name: i for i, name in enumerate(GEOMETRY_NAMES)}
D = {name: i for i, name in enumerate(DRIVERS)}
C = {name: i for i, name in enumerate(CLASSES)}

# Channels that follow the class of the face shown (lip_corner_pull has its own smile / AU12 model).
EXPRESSION_CHANNELS = ("ear_left", "ear_right", "brow_lowering", "brow_knit", "mouth_open", "mouth_width", "lip_press")

HERE = os.path.dirname(os.path.abspath(__file__))
GEOMETRY_STATS = os.path.join(HERE, "geometry_stats.json")
FIXTURE_BANK = os.path.join(HERE, "fixtures", "heldout_bank.npz")


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------
@dataclass
class TargetParams:
    weights: dict = field(
        default_factory=lambda: {"au4": 1.0, "au12_suppression": 0.7, "blink_rate": 0.6, "head_motion": 0.6, "neg_arousal": 1.0}
    )
    cap: float = 2.5  # per-step strain saturates softly: s = cap * tanh(raw / cap) (a brief all-out grimace ~ sustained strain per step)
    tau_steps: float = 12.0  # recency time constant of the window mean, steps (12 x 0.25 s = 3 s)
    gain: float = 4.0
    centre: float = 1.0


@dataclass
class EmbeddingParams:
    # class logit = bias + sum_k drive[class][k] * d_k + smile_weight[class] * smile
    bias: dict = field(
        default_factory=lambda: {"angry": -4.0, "disgust": -5.0, "fear": -4.0, "happy": 0.0, "sad": -4.0, "surprise": -4.0, "neutral": 1.0}
    )
    drive: dict = field(
        default_factory=lambda: {
            "angry": {"au4": 2.0, "neg_arousal": 3.0},
            "disgust": {"au4": 1.0, "au12_suppression": 1.0, "neg_arousal": 2.0},
            "fear": {"neg_arousal": 3.0, "blink_rate": 0.5},
            "happy": {"au12_suppression": -4.0, "neg_arousal": -5.0, "au4": -1.0},
            "sad": {"au12_suppression": 3.0, "au4": 0.5, "neg_arousal": 1.0},
            "surprise": {"neg_arousal": 2.5},
            "neutral": {"neg_arousal": -3.0, "au4": -1.0},
        }
    )
    smile_weight: dict = field(default_factory=lambda: {"happy": 3.5})
    min_label_prob: float = 0.3  # a face joins its class pool if the emotion model gives its label >= this
    run_mean: float = 8.0  # mean frames a face is held
    redraw_tv: float = 0.35  # draw a new face when the class distribution moved this much (total variation)
    blend_frames: int = 2  # cross-fade length between consecutive faces
    jitter: float = 0.08  # per-frame Gaussian noise, fraction of the bank's per-dimension std
    # While talking, the face shown is a mix of expressions (speech shapes read as surprise, happy,
    # fear, ... frame by frame): class distribution = (1 - m) x driver softmax + m x talk_classes,
    # m ~ talk_mix; faces change faster (run mean talk_run_mean frames).
    talk_classes: dict = field(
        default_factory=lambda: {"neutral": 0.35, "happy": 0.2, "surprise": 0.15, "sad": 0.1, "fear": 0.08, "angry": 0.06, "disgust": 0.06}
    )
    talk_mix: tuple = (0.3, 0.8)
    talk_run_mean: float = 3.0


@dataclass
class GeometryParams:
    # person baseline = neutral mean + spread * between-person std * N(0,1); spread < 1 because the FER
    # std also holds pose, low-resolution landmark noise and expression leaking into "neutral" labels
    person_spread: float = 0.35
    ear_spread: float = 0.6  # the same for the eye aspect ratios (narrow eyes, looking down: clips reach 0.17-0.23)
    noise_scale: float = 1.5  # × measured frame-to-frame measurement noise
    # au4 = 1 moves the brows by gain × the (angry - neutral) FER class difference; > 1 because FER "angry"
    # mixes mild intensities and non-frontal poses, so its mean difference is well below a full AU4
    au4_gain: float = 3.0
    au4_min_effect: dict = field(default_factory=lambda: {"brow_lowering": 0.04, "brow_knit": 0.03})
    smile_gain: float = 1.5  # smile = 1 moves lip corners by gain × (happy - neutral)
    au12_down: float = 0.03  # au12_suppression = 1 pulls the lip centre-corner offset down by this (/IOD)
    lip_press_drop: float = 0.5  # au12_suppression = 1 lowers lip_press by this fraction of its neutral value
    expression_gain: float = 1.0  # EXPRESSION_CHANNELS move by gain × (class - neutral) of the face shown
    blink_onset_base: float = 0.012  # blink onsets per frame at rest (~18 per minute at 25 fps)
    blink_onset_max: float = 0.1  # ... at blink_rate = 1 (~2.5 per second: fluttering)
    blink_depth: tuple = (0.55, 0.8)  # fraction of EAR lost at the bottom of a blink
    eyelid_tension: float = 0.2  # blink_rate = 1 narrows the EARs by this fraction
    motion_deg_s: float = 25.0  # head_motion = 1: typical angular speed of the micro-motion, deg/s
    motion_smooth: int = 3  # micro-motion: white noise smoothed over this many frames (jittery, little net turn)
    rest_jitter_tail: float = 0.6  # log-normal sigma of the pose-jitter speed (clips: p90 ~ 2.7 × median)
    look_prob: float = 0.3  # fraction of sequences with a deliberate head turn (not strain)
    look_deg_s: tuple = (10.0, 60.0)  # its speed range, deg/s (the Pexels clip: median 17, p90 56)
    talk_prob: float = 0.2  # fraction of the non-"talking" sequences that also talk (not strain)
    talk_hz: tuple = (3.0, 8.0)  # syllable rate of the mouth-aperture oscillation
    talk_amp: tuple = (0.08, 0.3)  # mouth_open amplitude (/IOD) of a syllable
    talk_width: float = 0.3  # mouth_width narrows by this x the mouth opening while talking (rounded vowels)
    talk_nod_deg_s: float = 6.0  # small head nods that go with speech, deg/s


@dataclass
class DriverParams:
    scenario_probs: dict = field(
        default_factory=lambda: {"calm": 0.2, "talking": 0.12, "random": 0.27, "strain": 0.14, "single": 0.1, "spike": 0.1,
                                 "transition": 0.07}
    )
    ar_noise: float = 0.05  # std of the AR(1) noise on each driver
    ar_rho: float = 0.7


@dataclass
class GeneratorParams:
    target: TargetParams = field(default_factory=TargetParams)
    embedding: EmbeddingParams = field(default_factory=EmbeddingParams)
    geometry: GeometryParams = field(default_factory=GeometryParams)
    drivers: DriverParams = field(default_factory=DriverParams)
    frames: int = FRAMES  # steps per window
    fps: float = FPS  # frame rate of one render() call (render_steps sets it per chunk)
    step_seconds: float = STEP_SECONDS  # one step summarises this much time (mean of its frames)
    fps_range: tuple = (12.0, 30.0)  # training chunks are rendered at frame rates drawn from this range

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)


# --------------------------------------------------------------------------------------------
# target
# --------------------------------------------------------------------------------------------
def frame_strain(drivers: np.ndarray, tp: TargetParams | None = None) -> np.ndarray:
    """(..., T, 5) drivers -> (..., T) per-step strain s(t) = cap * tanh(sum_k w_k d_k(t) / cap)."""
    tp = tp or TargetParams()
    w = np.array([tp.weights[k] for k in DRIVERS], np.float64)
    return tp.cap * np.tanh((np.asarray(drivers, np.float64) @ w) / tp.cap)


def target_from_drivers(drivers: np.ndarray, tp: TargetParams | None = None) -> np.ndarray:
    """(..., T, 5) drivers in [0, 1] -> (...,) level in [0, 1] (see the module docstring)."""
    tp = tp or TargetParams()
    s = frame_strain(drivers, tp)
    t = s.shape[-1]
    a = np.exp(-(t - 1 - np.arange(t)) / tp.tau_steps)
    big_s = (s * a).sum(-1) / a.sum()
    return 1.0 / (1.0 + np.exp(-tp.gain * (big_s - tp.centre)))


# --------------------------------------------------------------------------------------------
# data: the embedding bank and the measured geometry statistics
# --------------------------------------------------------------------------------------------
@dataclass
class EmbeddingBank:
    """Emotion-model outputs for real FER2013 Training faces."""

    embeddings: np.ndarray  # (N, 256) float32
    labels: np.ndarray  # (N,) FER label
    probs: np.ndarray | None = None  # (N, 7) softmax, or None (stand-in embeddings)
    rows: np.ndarray | None = None  # FER2013 row of each face
    source: str = ""

    @classmethod
    def load(cls, path: str) -> EmbeddingBank:
        z = np.load(path, allow_pickle=False)
        probs = z["probs"].astype(np.float32) if "probs" in z.files and z["probs"].size else None
        return cls(
            z["embeddings"].astype(np.float32),
            z["labels"].astype(np.int64),
            probs,
            z["rows"] if "rows" in z.files else None,
            str(z["source"]) if "source" in z.files else os.path.basename(path),
        )

    def pools(self, min_label_prob: float, min_pool: int = 20) -> list[np.ndarray]:
        """Per class: indices of faces whose emotion-model probability of their label is high enough."""
        out = []
        for c in range(len(CLASSES)):
            idx = np.flatnonzero(self.labels == c)
            if self.probs is not None:
                good = idx[self.probs[idx, c] >= min_label_prob]
                if len(good) >= min_pool:
                    idx = good
                else:  # too few confident faces: keep the most confident min_pool of the class
                    idx = idx[np.argsort(-self.probs[idx, c])[:min_pool]]
            out.append(idx)
        return out

    @property
    def dim_std(self) -> np.ndarray:
        return self.embeddings.std(0) + 1e-6


@dataclass
class GeometryStats:
    neutral_mean: np.ndarray  # (12,)
    person_std: np.ndarray  # (12,) between-person std of neutral FER faces
    class_delta: np.ndarray  # (7, 12) class mean - neutral mean (FER medians)
    jitter: np.ndarray  # (12,) per-frame measurement noise std (clips)
    head_motion_rest: float  # deg/s: median head_motion on the steady clip
    head_motion_rest_std: float

    @classmethod
    def load(cls, path: str = GEOMETRY_STATS) -> GeometryStats:
        with open(path) as f:
            s = json.load(f)
        fer = s["fer"]
        neutral = np.array(fer["neutral"]["median"])
        person = np.array(fer["neutral"]["std"])
        delta = np.array([np.array(fer[c]["median"]) - neutral for c in CLASSES])
        # Per-frame measurement noise: robust std of the frame-to-frame differences on the real clips
        # (1.4826 × median |diff| / sqrt(2), the median over the clip tracks), so blinks, smiles and
        # head turns in the clips do not count as noise.
        diffs = [np.array(f["diff_median_abs"]) for clip in s["clips"].values() for f in clip["faces"].values()]
        jitter = 1.4826 * np.median(np.array(diffs), axis=0) / np.sqrt(2.0) if diffs else person * 0.05
        hm = [
            (f["median"][G["head_motion"]], f["std"][G["head_motion"]])
            for clip in s["clips"].values() for f in clip["faces"].values()
        ]
        hm_rest, hm_std = min(hm) if hm else (3.0, 2.0)
        # Things FER stills cannot show: no head motion, no blink events.
        for name in ("blink", "head_motion"):
            person[G[name]] = 0.0
            delta[:, G[name]] = 0.0
            neutral[G[name]] = 0.0
        jitter[G["blink"]] = 0.0
        return cls(neutral, person, delta, jitter, float(hm_rest), float(hm_std))


# --------------------------------------------------------------------------------------------
# drivers
# --------------------------------------------------------------------------------------------
def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def driver_trajectory(rng: np.random.Generator, level: float, base: float, kind: str, frames: int = FRAMES,
                      t0: float | None = None, width: float | None = None) -> np.ndarray:
    """One driver over `frames`: 'steady' (level), 'onset' (base -> level from t0 over width frames),
    'decay' (level -> base), 'spike' (base, level for 1-2 frames at t0)."""
    t = np.arange(frames, dtype=np.float64)
    if t0 is None:
        t0 = rng.uniform(-4, frames - 1)
    if width is None:
        width = rng.uniform(1, 6)
    if kind == "steady":
        d = np.full(frames, level)
    elif kind == "onset":
        d = base + (level - base) * _smoothstep((t - t0) / width)
    elif kind == "decay":
        d = level + (base - level) * _smoothstep((t - t0) / width)
    elif kind == "spike":
        d = np.full(frames, base)
        k = int(round(t0)) % frames
        d[k: k + int(rng.integers(1, 3))] = level
    else:
        raise ValueError(kind)
    return d


def _ar_noise(rng: np.random.Generator, n: int, frames: int, std: float, rho: float) -> np.ndarray:
    e = rng.normal(0.0, std, (n, frames))
    out = np.empty_like(e)
    out[:, 0] = e[:, 0]
    for t in range(1, frames):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * e[:, t]
    return out


def sample_drivers(rng: np.random.Generator, n: int, params: GeneratorParams | None = None,
                   scenario: str | None = None) -> tuple[np.ndarray, list[str]]:
    """(n, T, 5) driver trajectories from the scenario mixture (or one named scenario)."""
    p = params or GeneratorParams()
    T = p.frames
    names = list(p.drivers.scenario_probs)
    probs = np.array([p.drivers.scenario_probs[k] for k in names])
    kinds = [scenario] * n if scenario else list(rng.choice(names, size=n, p=probs / probs.sum()))
    out = np.zeros((n, T, len(DRIVERS)))
    for i, kind in enumerate(kinds):
        for k in range(len(DRIVERS)):
            lo = rng.uniform(0.0, 0.12)
            if kind in ("calm", "talking"):
                d = driver_trajectory(rng, rng.uniform(0.0, 0.15), 0.0, "steady", T)
            elif kind == "random":
                prof = rng.choice(["steady", "steady", "onset", "decay", "spike"])
                d = driver_trajectory(rng, rng.uniform(0, 1), lo, prof, T)
            elif kind == "strain":
                d = driver_trajectory(rng, rng.uniform(0.55, 1.0) if rng.random() < 0.75 else rng.uniform(0, 0.5),
                                      lo, rng.choice(["steady", "steady", "onset"]), T, t0=rng.uniform(-6, 6))
            elif kind == "single":
                d = np.full(T, lo)
            elif kind == "spike":
                d = driver_trajectory(rng, rng.uniform(0.5, 1.0), lo, "spike", T) if rng.random() < 0.7 else np.full(T, lo)
            elif kind == "transition":
                d = np.full(T, lo)  # filled below with a shared onset/decay time
            else:
                raise ValueError(kind)
            out[i, :, k] = d
        if kind == "single":
            k = rng.integers(len(DRIVERS))
            out[i, :, k] = driver_trajectory(rng, rng.uniform(0, 1), out[i, 0, k], rng.choice(["steady", "onset", "decay"]), T)
        elif kind == "transition":
            prof = rng.choice(["onset", "decay"])
            t0, width = rng.uniform(-2, T - 2), rng.uniform(1, 5)
            for k in range(len(DRIVERS)):
                out[i, :, k] = driver_trajectory(rng, rng.uniform(0.4, 1.0), out[i, 0, k], prof, T, t0=t0, width=width)
    noise = _ar_noise(rng, n * len(DRIVERS), T, p.drivers.ar_noise, p.drivers.ar_rho)
    out += noise.reshape(n, len(DRIVERS), T).transpose(0, 2, 1)
    return np.clip(out, 0.0, 1.0), kinds


# --------------------------------------------------------------------------------------------
# rendering: drivers -> (embedding, geometry) frames
# --------------------------------------------------------------------------------------------
@dataclass
class Nuisance:
    """Per-sequence factors that are not strain."""

    smile: np.ndarray  # (n,) relaxed-smile propensity [0, 1]
    talk: np.ndarray  # (n,) bool
    talk_mix: np.ndarray | None = None  # (n,) weight of the mixed speech expressions in the faces shown

    @classmethod
    def sample(cls, rng: np.random.Generator, n: int, gp: GeometryParams, kinds=None,
               ep: EmbeddingParams | None = None) -> Nuisance:
        """`kinds` (scenario names): "talking" sequences always talk, with mixed speech expressions."""
        ep = ep or EmbeddingParams()
        smile = np.where(rng.random(n) < 0.4, rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.3, n))
        talking = np.array([k == "talking" for k in kinds]) if kinds is not None else np.zeros(n, bool)
        talk = talking | (rng.random(n) < gp.talk_prob)
        mix = np.where(talking, rng.uniform(*ep.talk_mix, n), 0.0)
        return cls(smile, talk, mix)


def class_probabilities(drivers: np.ndarray, smile: np.ndarray, ep: EmbeddingParams) -> np.ndarray:
    """(n, T, 5) drivers, (n,) smile -> (n, T, 7) class distribution of the face shown."""
    logits = np.zeros(drivers.shape[:2] + (len(CLASSES),))
    for c, name in enumerate(CLASSES):
        logits[..., c] = ep.bias[name] + ep.smile_weight.get(name, 0.0) * smile[:, None]
        for drv, w in ep.drive.get(name, {}).items():
            logits[..., c] += w * drivers[..., D[drv]]
    logits -= logits.max(-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(-1, keepdims=True)


@dataclass
class Rendered:
    x: np.ndarray  # (n, T, 268) float32
    face_index: np.ndarray  # (n, T) bank index of the face mainly shown
    face_class: np.ndarray  # (n, T)


def render(rng: np.random.Generator, drivers: np.ndarray, bank: EmbeddingBank, stats: GeometryStats,
           params: GeneratorParams | None = None, nuisance: Nuisance | None = None) -> Rendered:
    """Observations for driver trajectories. All random draws have shapes that do not depend on the
    driver values, so the same seed with different drivers gives coupled sequences (same person,
    same noise, same quantiles) - the monotonicity checks rely on it."""
    p = params or GeneratorParams()
    ep, gp = p.embedding, p.geometry
    drivers = np.asarray(drivers, np.float64)
    n, T, _ = drivers.shape
    nz = nuisance or Nuisance.sample(rng, n, gp)

    # ---- random numbers, drawn up front (common random numbers)
    u_run = rng.random((n, T))
    u_class = rng.random((n, T))
    u_face = rng.random((n, T))
    emb_noise = rng.normal(0.0, 1.0, (n, T, EMBED_DIM)).astype(np.float32)
    z_person = rng.normal(0.0, 1.0, (n, len(GEOMETRY_NAMES)))
    z_eye = rng.normal(0.0, 0.3, n)
    geo_noise = rng.normal(0.0, 1.0, (n, T, len(GEOMETRY_NAMES)))
    u_blink = rng.random((n, T))
    blink_len = rng.integers(3, 6, (n, T))
    blink_depth = rng.uniform(*gp.blink_depth, (n, T))
    omega_raw = rng.normal(0.0, 1.0, (n, T + 4, 3))
    pose_jitter = rng.normal(0.0, 1.0, (n, T, 3))
    pose_tail = rng.normal(0.0, 1.0, (n, T))
    u_look = rng.random(n)
    look_speed = rng.uniform(*gp.look_deg_s, n)
    look_dir = rng.normal(0.0, 1.0, (n, 3)) * np.array([1.0, 0.6, 0.2])
    look_dir /= np.linalg.norm(look_dir, axis=1, keepdims=True)
    look_t0 = rng.uniform(-10, T, n)
    look_len = rng.uniform(3, 20, n)
    talk_phase = rng.uniform(0, 2 * np.pi, n)
    talk_freq = rng.uniform(*gp.talk_hz, n)  # Hz, syllable rate
    talk_amp = rng.uniform(*gp.talk_amp, n)
    talk_syll = rng.uniform(0.4, 1.0, (n, T))  # syllable-to-syllable amplitude
    talk_nod = rng.normal(0.0, 1.0, (n, T, 3))

    # ---- embedding: face runs from the class distribution
    pc = class_probabilities(drivers, nz.smile, ep)
    mix = nz.talk_mix if nz.talk_mix is not None else np.zeros(n)
    if np.any(mix > 0):  # talking: mixed speech expressions, whatever the drivers
        talk_pc = np.array([ep.talk_classes.get(c, 0.0) for c in CLASSES])
        pc = (1 - mix[:, None, None]) * pc + mix[:, None, None] * (talk_pc / talk_pc.sum())
    pools = bank.pools(ep.min_label_prob)
    cum = np.cumsum(pc, -1)
    face_idx = np.zeros((n, T), np.int64)
    face_cls = np.zeros((n, T), np.int64)
    p_change_seq = np.where(mix > 0, 1.0 / max(ep.talk_run_mean, 1.0), 1.0 / max(ep.run_mean, 1.0))
    for i in range(n):
        ref = None
        p_change = p_change_seq[i]
        for t in range(T):
            new = t == 0 or u_run[i, t] < p_change or 0.5 * np.abs(pc[i, t] - ref).sum() > ep.redraw_tv
            if new:
                c = int(min(np.searchsorted(cum[i, t], u_class[i, t] * cum[i, t, -1]), len(CLASSES) - 1))
                pool = pools[c]
                face_idx[i, t] = pool[min(int(u_face[i, t] * len(pool)), len(pool) - 1)]
                face_cls[i, t] = c
                ref = pc[i, t]
            else:
                face_idx[i, t], face_cls[i, t] = face_idx[i, t - 1], face_cls[i, t - 1]
    emb = bank.embeddings[face_idx]  # (n, T, 256)
    if ep.blend_frames > 0:  # cross-fade: the first frames of a run still carry the previous face
        out = emb.copy()
        for i in range(n):
            for t in range(1, T):
                if face_idx[i, t] != face_idx[i, t - 1]:
                    prev = bank.embeddings[face_idx[i, t - 1]]
                    for j in range(ep.blend_frames):
                        if t + j < T and face_idx[i, t + j] == face_idx[i, t]:
                            a = (j + 1) / (ep.blend_frames + 1)
                            out[i, t + j] = (1 - a) * prev + a * bank.embeddings[face_idx[i, t]]
        emb = out
    lo, hi = bank.embeddings.min(), bank.embeddings.max()
    emb = np.clip(emb + ep.jitter * bank.dim_std * emb_noise, lo, hi).astype(np.float32)

    # ---- geometry
    a4 = drivers[..., D["au4"]]
    s12 = drivers[..., D["au12_suppression"]]
    br = drivers[..., D["blink_rate"]]
    hm = drivers[..., D["head_motion"]]
    na = drivers[..., D["neg_arousal"]]
    st = stats
    base = st.neutral_mean + gp.person_spread * st.person_std * z_person  # (n, 12)
    base[:, G["ear_left"]] = st.neutral_mean[G["ear_left"]] + gp.ear_spread * st.person_std[G["ear_left"]] * z_person[:, G["ear_left"]]
    base[:, G["ear_right"]] = base[:, G["ear_left"]] + st.person_std[G["ear_right"]] * gp.person_spread * z_eye
    geo = np.repeat(base[:, None, :], T, axis=1)

    # brows: AU4
    for name in ("brow_lowering", "brow_knit"):
        eff = max(gp.au4_gain * st.class_delta[C["angry"], G[name]], gp.au4_min_effect[name])
        geo[..., G[name]] += eff * a4
    # lip corners: relaxed smile on happy faces, pulled down by AU12 suppression
    probs_shown = bank.probs[face_idx] if bank.probs is not None else np.eye(len(CLASSES))[face_cls]
    happy_shown = probs_shown[..., C["happy"]]
    smile_eff = gp.smile_gain * max(st.class_delta[C["happy"], G["lip_corner_pull"]], 0.01)
    geo[..., G["lip_corner_pull"]] += smile_eff * happy_shown * (1 - s12) - gp.au12_down * s12
    geo[..., G["lip_press"]] *= 1.0 - gp.lip_press_drop * s12
    # eyes, brows and mouth also follow the expression on the face shown, by the measured FER class
    # differences (surprise: eyes and mouth open, brows up; angry: brows down; happy: mouth wide)
    for name in EXPRESSION_CHANNELS:
        geo[..., G[name]] += gp.expression_gain * (probs_shown @ st.class_delta[:, G[name]])
    # talking (not strain): the mouth opens and closes at the syllable rate, narrowing as it opens
    talk = nz.talk[:, None] * talk_amp[:, None] * talk_syll * np.clip(
        np.sin(2 * np.pi * talk_freq[:, None] * np.arange(T)[None] / p.fps + talk_phase[:, None]), 0, None)
    geo[..., G["mouth_open"]] += talk
    geo[..., G["mouth_width"]] -= gp.talk_width * talk
    # head motion (deg/s): micro-motion = zero-mean jittery angular velocity scaled by the driver;
    # a deliberate head turn (nuisance) = a sustained smooth rotation; plus heavy-tailed pose jitter
    m = max(int(gp.motion_smooth), 1)
    k = np.ones(m) / m
    omega = sum(omega_raw[:, j: j + T] * k[j] for j in range(m))
    omega *= (gp.motion_deg_s * hm / np.sqrt((k ** 2).sum()))[..., None] / np.sqrt(3)
    look = (u_look < gp.look_prob)[:, None, None] * look_speed[:, None, None] * look_dir[:, None, :] * \
        _smoothstep((np.arange(T)[None, :, None] - look_t0[:, None, None]) / 3.0) * \
        (1 - _smoothstep((np.arange(T)[None, :, None] - look_t0[:, None, None] - look_len[:, None, None]) / 3.0))
    jitter_dps = st.head_motion_rest / 1.54 * pose_jitter * \
        np.exp(gp.rest_jitter_tail * pose_tail - gp.rest_jitter_tail ** 2 / 2)[..., None]
    nod = nz.talk[:, None, None] * gp.talk_nod_deg_s * talk_nod * np.array([0.3, 1.0, 0.2]) / np.sqrt(1.09)
    geo[..., G["head_motion"]] = np.linalg.norm(omega + look + jitter_dps + nod, axis=-1)
    angle = np.cumsum((omega + look) / p.fps, axis=1)  # degrees
    geo[..., G["head_yaw_norm"]] += angle[..., 0] / 90.0
    geo[..., G["head_pitch_norm"]] += angle[..., 1] / 90.0
    # measurement noise (not on blink / head_motion, which have their own)
    noise = gp.noise_scale * st.jitter * geo_noise
    noise[..., G["head_motion"]] = 0.0
    geo += noise
    # eyes: tension narrows, blink events dip both EARs
    narrow = 1.0 - gp.eyelid_tension * np.maximum(br, 0.5 * a4)
    geo[..., G["ear_left"]] *= narrow
    geo[..., G["ear_right"]] *= narrow
    onset_p = gp.blink_onset_base + (gp.blink_onset_max - gp.blink_onset_base) * br
    shape = {3: (0.6, 1.0, 0.4), 4: (0.5, 1.0, 0.7, 0.3), 5: (0.4, 0.9, 1.0, 0.6, 0.2)}
    dip = np.zeros((n, T))
    on = u_blink < onset_p
    for i, t in zip(*np.nonzero(on)):
        prof = np.array(shape[int(blink_len[i, t])]) * blink_depth[i, t]
        seg = dip[i, t: t + len(prof)]
        dip[i, t: t + len(prof)] = np.maximum(seg, prof[: len(seg)])
    geo[..., G["ear_left"]] *= 1.0 - dip
    geo[..., G["ear_right"]] *= 1.0 - dip
    geo[..., G["blink"]] = ((geo[..., G["ear_left"]] + geo[..., G["ear_right"]]) / 2 < BLINK_EAR).astype(np.float64)
    for name in ("ear_left", "ear_right", "mouth_open", "mouth_width", "lip_press"):
        geo[..., G[name]] = np.maximum(geo[..., G[name]], 0.0)
    del na  # neg_arousal acts through the faces shown (and their mouth shapes)

    x = np.concatenate([emb, geo.astype(np.float32)], axis=-1)
    return Rendered(x, face_idx, face_cls)


def generate(rng: np.random.Generator, n: int, bank: EmbeddingBank, stats: GeometryStats,
             params: GeneratorParams | None = None, scenario: str | None = None):
    """(x (n, T, 268) float32, target (n,) float32, drivers (n, T, 5), scenario names)."""
    p = params or GeneratorParams()
    drivers, kinds = sample_drivers(rng, n, p, scenario)
    r = render(rng, drivers, bank, stats, p, Nuisance.sample(rng, n, p.geometry, kinds, p.embedding))
    return r.x, target_from_drivers(drivers, p.target).astype(np.float32), drivers, kinds


def steady_drivers(levels: dict | np.ndarray, n: int = 1, frames: int = FRAMES) -> np.ndarray:
    """(n, frames, 5) constant drivers from {driver: level} (missing = 0) or a length-5 array."""
    if isinstance(levels, dict):
        v = np.array([levels.get(k, 0.0) for k in DRIVERS], np.float64)
    else:
        v = np.asarray(levels, np.float64)
    return np.broadcast_to(v, (n, frames, len(DRIVERS))).copy()
