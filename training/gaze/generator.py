"""Synthetic gaze sequences from a geometric eye model (numpy + OpenCV, no TensorFlow).

No gaze data set is available here, so the training data come from geometry:

* Face: the face core's mean 3D face (sentin_ros.core.head_pose.MODEL_POINTS_MM, MediaPipe
  topology, nose tip at the origin, x toward the subject's left, y down, z away from the camera),
  per subject scaled (inter-ocular distance, eye size) and perturbed point by point (face shape).
* Eyes: an eyeball (radius ~12 mm) behind each eye-corner mid-point; the iris (radius ~5.9 mm)
  is the circle where the sphere meets a plane perpendicular to the OPTICAL axis; the VISUAL
  axis (eyeball centre -> fixated point) differs from it by a per-subject kappa (~5 deg nasal,
  ~1.5 deg vertical). Lids are points just outside the eyeball whose elevation follows the
  eye's vertical rotation (the upper lid more) and closes in blinks.
* Scene: a screen with the camera at its top centre (the screen is the camera's z = 0 plane,
  see sentin_ros.inference.gaze_screen), a head at 0.4-0.9 m, random pose (yaw +-35, pitch +-25,
  roll +-15 deg) that drifts or turns during the sequence, and gaze targets on the screen (and
  some off it) with 15-frame dynamics: fixations with drift, saccades, smooth pursuit, blinks.
* Image: pinhole projection with a focal length within +-10% of the default guess (the runtime
  does not know the true one), several image sizes, landmark noise = a common shift of the whole
  mesh + temporally correlated per-landmark noise + extra iris-centre noise, and per-subject
  landmark biases.
* Features: the 478-point pixel array goes through sentin_ros.core.features.eye_features, the
  function the face core runs on MediaPipe landmarks, and the head pose through the face core's
  HeadPoseEstimator (solvePnP with the default camera matrix): the model sees at training time
  exactly the numbers it sees at run time.

Labels: the fixated point at the LAST frame (camera plane, mm) and as a normalized point on
sentin_ros.inference.gaze_screen.REFERENCE_SCREEN (the model's output convention).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sentin_ros.core import landmarks as L
from sentin_ros.core.features import eye_features
from sentin_ros.core.head_pose import MODEL_LANDMARKS, MODEL_POINTS_MM, HeadPoseEstimator, default_camera_matrix, rotation_from_angles
from sentin_ros.inference.gaze_screen import REFERENCE_SCREEN, ScreenGeometry

SEQ_LEN = 15
_IDX = {lm: i for i, lm in enumerate(MODEL_LANDMARKS)}
# Eye corners in MODEL_POINTS_MM (subject's right eye = image left).
_R_OUT, _R_IN, _L_OUT, _L_IN = (_IDX[L.RIGHT_EYE_OUTER], _IDX[L.RIGHT_EYE_INNER], _IDX[L.LEFT_EYE_OUTER], _IDX[L.LEFT_EYE_INNER])
_ESTIMATOR = HeadPoseEstimator()  # default camera matrix, as at run time without CameraInfo


@dataclass
class GeneratorConfig:
    """All the generator's parameters (ranges are uniform unless named mean/sd)."""

    yaw_deg: float = 35.0
    pitch_deg: float = 25.0
    roll_deg: float = 15.0
    distance_m: tuple[float, float] = (0.4, 0.9)
    eyeball_radius_mm: tuple[float, float] = (12.0, 0.5)  # mean, sd
    # Fitted to real faces (training/gaze/fit_generator.py -> generator_fit.json, from the statistics
    # in real_landmark_stats.json): iris radius, eyeball height, lid elevations, head-pitch bias.
    iris_radius_mm: tuple[float, float] = (4.9, 0.35)  # mean, sd (the face stage's iris: 0.19 eye widths on real faces)
    # Per-subject effects the features cannot reveal (kappa, where the eyeball sits behind the
    # corners, landmark biases) are what the per-user calibration is for. Training draws them
    # from NARROW distributions (the model learns the population-mean geometry sharply instead of
    # averaging over unobservable offsets); held_out_config() draws them from the full ones.
    eyeball_depth_mm: tuple[float, float] = (5.0, 0.5)  # centre behind the corner mid-point: mean, sd (full: 1.5)
    eyeball_offset_sd_mm: tuple[float, float] = (0.2, 0.4)  # centre x, y offset from the corner mid-point (full: 0.8, 0.8)
    eyeball_dy_mm: float = -1.57  # mean of the centre's y offset (> 0 = down the face); fitted (version 4: +0.3)
    kappa_h_deg: tuple[float, float] = (5.0, 0.5)  # visual axis nasal of the optical axis: mean, sd (full: 2.0)
    kappa_v_deg: tuple[float, float] = (1.5, 0.25)  # visual axis above the optical axis: mean, sd (full: 1.0)
    kappa_clip_sd: float = 2.0  # kappa within mean +- 2 sd
    iod_scale_sd: float = 0.055  # inter-ocular distance: 63 mm * N(1, sd)
    eye_size_sd: float = 0.06  # eye (corner-to-corner) size: N(1, sd)
    face_shape_sd_mm: float = 0.5  # per-point face shape deviation from the mean face (biases the head pose; full: 1.5)
    corner_bias_sd_mm: float = 0.1  # per-subject landmark bias of the eye corners / iris centre (full: 0.4)
    # lid elevations: opening / eye width ~0.28 looking straight ahead (MediaPipe on the real
    # clip: 0.25-0.33 with open eyes, up to 0.42 looking up)
    upper_lid_deg: tuple[float, float] = (15.7, 2.5)  # open upper-lid elevation: mean, sd (full: 4); fitted (version 4: 19)
    lower_lid_deg: tuple[float, float] = (19.4, 2.0)  # (full: 3); fitted (version 4: 15)
    max_eye_in_head_deg: tuple[float, float] = (42.0, 32.0)  # horizontal, vertical
    focal_scale: tuple[float, float] = (0.9, 1.1)  # true focal / default_camera_matrix focal
    image_sizes: tuple[tuple[int, int], ...] = ((640, 480), (640, 360), (1280, 720), (960, 540), (800, 600), (320, 240))
    fps: tuple[float, ...] = (15.0, 20.0, 24.0, 30.0)
    # Landmark noise, px at 67 px inter-ocular distance (scaled by 0.5 + 0.5 * IOD / 67). The
    # whole mesh shifts together by 0.5-1.5 px; the per-landmark part is what moves the iris
    # against the eye corners: MediaPipe here jitters by iris_x sd 0.008-0.016 and iris_y sd
    # 0.003-0.005 on a still face (image noise 3 grey levels + 0.3 px shake, IOD 42-70 px), which
    # per-landmark noise of ~0.15 px reproduces; training covers 0.05-0.35 px.
    noise_common_px: tuple[float, float] = (0.5, 1.5)  # whole-mesh shift per frame
    noise_px: tuple[float, float] = (0.05, 0.35)  # per landmark
    noise_iris_px: tuple[float, float] = (0.05, 0.25)  # extra on the iris centre
    noise_rho: tuple[float, float] = (0.3, 0.8)  # frame-to-frame correlation of per-landmark noise
    # Off-screen targets: half within 0.2 of the screen, half within 1.0 (a screen size beyond
    # each edge: the ceiling, the desk, beside the screen), so that the output range the INT8
    # model is quantised for covers where people look, not just the screen.
    off_screen_fraction: float = 0.3
    off_screen_margin: tuple[float, ...] = (0.2, 1.0)  # normalized margins, one drawn per target
    # Head-pose estimate bias per subject (deg): solvePnP on a real face that is not the mean face
    # reads a biased pitch (real faces: fit_generator.py); added to the estimated pose.
    pitch_bias_deg: tuple[float, float] = (4.35, 3.0)  # mean (fitted: real frontal faces read +3.9 deg), sd (full: 4)
    yaw_roll_bias_sd_deg: float = 1.5
    blink_prob: float = 0.15
    modes: dict = field(default_factory=lambda: {"fixation": 0.4, "scan": 0.35, "pursuit": 0.25})


def held_out_config() -> GeneratorConfig:
    """Evaluation subjects: the full per-subject variation (kappa ~5+-2 deg horizontal, 1.5+-1 deg
    vertical, eyeball position +-0.8/0.8/1.5 mm, landmark bias 0.4 mm, face shape 1.5 mm, lid
    elevations 15.7+-4 / 19.4+-3 deg, head-pitch bias 4.35+-4 deg: mostly values training never
    saw) and per-landmark noise of 0.25-0.5 px (training: 0.05-0.35)."""
    return replace(GeneratorConfig(), kappa_h_deg=(5.0, 2.0), kappa_v_deg=(1.5, 1.0), kappa_clip_sd=4.0, eyeball_depth_mm=(5.0, 1.5),
                   eyeball_offset_sd_mm=(0.8, 0.8), corner_bias_sd_mm=0.4, face_shape_sd_mm=1.5,
                   upper_lid_deg=(15.7, 4.0), lower_lid_deg=(19.4, 3.0), pitch_bias_deg=(4.35, 4.0), yaw_roll_bias_sd_deg=2.0,
                   noise_px=(0.25, 0.5), noise_iris_px=(0.15, 0.35), noise_common_px=(0.5, 1.5))


# ----------------------------------------------------------------------------------------------
# Subjects and sessions


@dataclass
class Subject:
    face_mm: np.ndarray  # 18×3 perturbed MODEL_POINTS_MM
    eyeball_mm: np.ndarray  # 2×3 eyeball centres (subject's right, left), head frame
    eyeball_radius: float
    iris_radius: float
    kappa_h: float  # deg, nasal
    kappa_v: float  # deg, up
    upper_lid: float  # deg
    lower_lid: float
    corner_bias: np.ndarray  # 4×3 mm bias of corners 33, 133, 263, 362
    iris_bias: np.ndarray  # 2×3 mm bias of the iris centres
    pose_bias: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (pitch, yaw, roll) deg added to the estimate


@dataclass
class Session:
    screen: ScreenGeometry
    width: int
    height: int
    k_true: np.ndarray  # 3×3
    fps: float
    sigma_common: float
    sigma: float
    sigma_iris: float
    rho: float


def _trunc_normal(rng, mean, sd, clip_sd):
    for _ in range(100):
        v = rng.normal(mean, sd)
        if abs(v - mean) <= clip_sd * sd:
            return float(v)
    return float(mean)


def sample_subject(rng: np.random.Generator, cfg: GeneratorConfig) -> Subject:
    face = MODEL_POINTS_MM.copy()
    face[:, 0] *= rng.normal(1.0, cfg.iod_scale_sd)  # face width follows the IOD
    face *= rng.normal(1.0, 0.03)
    face += rng.normal(0, cfg.face_shape_sd_mm, face.shape)
    face[_IDX[1]] = MODEL_POINTS_MM[_IDX[1]]  # keep the nose tip at the origin
    eye_size = rng.normal(1.0, cfg.eye_size_sd)
    eyeballs = []
    for out_i, in_i in ((_R_OUT, _R_IN), (_L_OUT, _L_IN)):
        mid = (face[out_i] + face[in_i]) / 2
        face[out_i] = mid + (face[out_i] - mid) * eye_size
        face[in_i] = mid + (face[in_i] - mid) * eye_size
        offset = np.array([rng.normal(0, cfg.eyeball_offset_sd_mm[0]), rng.normal(cfg.eyeball_dy_mm, cfg.eyeball_offset_sd_mm[1]),
                           rng.normal(*cfg.eyeball_depth_mm)])
        eyeballs.append(mid + offset)
    r = max(10.5, rng.normal(*cfg.eyeball_radius_mm))
    return Subject(
        face_mm=face,
        eyeball_mm=np.array(eyeballs),
        eyeball_radius=r,
        iris_radius=float(np.clip(rng.normal(*cfg.iris_radius_mm), 3.0, 6.8)),
        kappa_h=_trunc_normal(rng, *cfg.kappa_h_deg, cfg.kappa_clip_sd),
        kappa_v=_trunc_normal(rng, *cfg.kappa_v_deg, cfg.kappa_clip_sd),
        upper_lid=float(np.clip(rng.normal(*cfg.upper_lid_deg), 6, 28)),
        lower_lid=float(np.clip(rng.normal(*cfg.lower_lid_deg), 6, 24)),
        corner_bias=rng.normal(0, cfg.corner_bias_sd_mm, (4, 3)),
        iris_bias=rng.normal(0, cfg.corner_bias_sd_mm * 0.5, (2, 3)),
        pose_bias=np.array([rng.normal(*cfg.pitch_bias_deg), rng.normal(0, cfg.yaw_roll_bias_sd_deg),
                            rng.normal(0, cfg.yaw_roll_bias_sd_deg)]),
    )


def sample_screen(rng: np.random.Generator) -> ScreenGeometry:
    """Laptops (13-17 in) and monitors (21-32 in), 16:9 or 16:10, webcam 3-25 mm above the top edge."""
    diag_in = rng.uniform(13, 17.3) if rng.random() < 0.45 else rng.uniform(21, 32)
    aspect = 16 / 9 if rng.random() < 0.7 else 16 / 10
    h = diag_in * 25.4 / np.hypot(aspect, 1.0)
    return ScreenGeometry(h * aspect, h, rng.normal(0, 8), rng.uniform(3, 25))


def sample_session(rng: np.random.Generator, cfg: GeneratorConfig, screen: ScreenGeometry | None = None) -> Session:
    w, h = cfg.image_sizes[rng.integers(len(cfg.image_sizes))]
    k = default_camera_matrix(w, h)
    f = rng.uniform(*cfg.focal_scale)
    k[0, 0] *= f
    k[1, 1] *= f
    k[0, 2] += rng.normal(0, 0.01 * w)
    k[1, 2] += rng.normal(0, 0.01 * h)
    return Session(
        screen=screen or sample_screen(rng),
        width=int(w),
        height=int(h),
        k_true=k,
        fps=float(rng.choice(cfg.fps)),
        sigma_common=rng.uniform(*cfg.noise_common_px),
        sigma=rng.uniform(*cfg.noise_px),
        sigma_iris=rng.uniform(*cfg.noise_iris_px),
        rho=rng.uniform(*cfg.noise_rho),
    )


# ----------------------------------------------------------------------------------------------
# Trajectories


def _sample_point(rng, screen: ScreenGeometry, cfg: GeneratorConfig) -> np.ndarray:
    if rng.random() < cfg.off_screen_fraction:
        margins = np.atleast_1d(cfg.off_screen_margin)
        m = float(margins[rng.integers(len(margins))])
        while True:
            xy = rng.uniform(-m, 1 + m, 2)
            if not (0 <= xy[0] <= 1 and 0 <= xy[1] <= 1):
                break
    else:
        xy = rng.uniform(0, 1, 2)
    return screen.to_camera_mm(xy)


def target_trajectory(rng, screen: ScreenGeometry, cfg: GeneratorConfig, fps: float, distance_mm: float, mode: str) -> np.ndarray:
    """SEQ_LEN×3 fixated points (camera plane, mm): fixations with drift, saccades, pursuit."""
    deg_mm = distance_mm * np.pi / 180  # ~mm per degree at the screen
    drift = np.cumsum(rng.normal(0, 0.05 * deg_mm, (SEQ_LEN, 3)), axis=0)  # fixational drift
    drift[:, 2] = 0
    pts = np.zeros((SEQ_LEN, 3))
    if mode == "pursuit":
        start = _sample_point(rng, screen, cfg)
        speed = rng.uniform(3, 25) * deg_mm / fps  # mm per frame
        ang = rng.uniform(0, 2 * np.pi)
        v = np.array([np.cos(ang), np.sin(ang), 0.0]) * speed
        t = np.arange(SEQ_LEN) - (SEQ_LEN - 1)
        pts = start + t[:, None] * v  # ends at `start`
        pts += drift * 0.5
        return pts
    # fixation: at most one saccade; scan: a fixation every 150-400 ms
    if mode == "fixation":
        changes = [int(rng.integers(1, SEQ_LEN))] if rng.random() < 0.5 else []
    else:
        changes, k = [], int(rng.integers(-3, 4))
        while True:
            k += max(2, int(round(rng.uniform(0.15, 0.4) * fps)))
            if k >= SEQ_LEN:
                break
            if k > 0:
                changes.append(k)
    current = _sample_point(rng, screen, cfg)
    prev = current
    start_of = -100
    for i in range(SEQ_LEN):
        if i in changes:
            prev, current, start_of = pts[i - 1] if i > 0 else current, _sample_point(rng, screen, cfg), i
        # saccade: ~30-60 ms, i.e. 1-2 frames at 15-30 fps; the eye is between the points meanwhile
        dur = max(1, int(round(0.045 * fps)))
        a = min(1.0, (i - start_of + 1) / (dur + 1)) if start_of >= 0 else 1.0
        pts[i] = prev + (current - prev) * a
    return pts + drift


def blink_profile(rng, fps: float) -> np.ndarray:
    """Closure (0 open .. 1 closed) per frame: closing ~70 ms, closed ~50 ms, opening ~150 ms."""
    dt = 1000.0 / fps
    start = rng.uniform(-200, SEQ_LEN * dt)
    t = np.arange(SEQ_LEN) * dt - start
    close, hold, open_ = rng.uniform(50, 90), rng.uniform(20, 80), rng.uniform(100, 200)
    c = np.where(t < 0, 0.0, np.where(t < close, t / close, np.where(t < close + hold, 1.0, 1 - (t - close - hold) / open_)))
    return np.clip(c, 0, 1) * rng.uniform(0.85, 1.0)


# ----------------------------------------------------------------------------------------------
# Eye geometry


def _dir(azimuth_deg, elevation_deg) -> np.ndarray:
    """Head-frame unit vector; azimuth > 0 toward +x (subject's left), elevation > 0 up."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.stack([np.sin(a) * np.cos(e), -np.sin(e), -np.cos(a) * np.cos(e)], axis=-1)


def _angles(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(azimuth, elevation) degrees of head-frame unit vectors (..., 3)."""
    return np.degrees(np.arctan2(d[..., 0], -d[..., 2])), np.degrees(np.arcsin(np.clip(-d[..., 1], -1, 1)))


def eye_points_head(subject: Subject, visual_dirs: np.ndarray, closure: np.ndarray):
    """Head-frame 3D points of both eyes for T frames.

    visual_dirs: T×2×3 unit visual axes (head frame), eye 0 = subject's right.
    Returns dict of T×2×3 arrays: iris centre, 4 iris contour points (T×2×4×3), upper/lower lid,
    upper/lower lid side points (EAR points, T×2×2×3), and the eye-in-head optical angles.
    """
    az_v, el_v = _angles(visual_dirs)
    nasal = np.array([1.0, -1.0])  # right eye: nasal is +x; left eye: -x
    az_o = az_v - subject.kappa_h * nasal
    el_o = el_v - subject.kappa_v
    d_o = _dir(az_o, el_o)  # T×2×3
    r, ri = subject.eyeball_radius, subject.iris_radius
    depth = np.sqrt(r * r - ri * ri)
    c = subject.eyeball_mm[None]  # 1×2×3
    iris = c + depth * d_o
    e1 = np.array([1.0, 0, 0]) - d_o[..., 0:1] * d_o
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(d_o, e1)
    contour = np.stack([iris + ri * e1, iris + ri * e2, iris - ri * e1, iris - ri * e2], axis=2)
    # lids: on a sphere 1 mm outside the eyeball; the upper lid follows the eye down more than up
    rl = r + 1.0
    up = subject.upper_lid + np.where(el_o < 0, 0.8, 0.45) * el_o
    lo = -subject.lower_lid + 0.3 * el_o
    up = (1 - closure[:, None]) * up + closure[:, None] * (lo + 1.0)
    lid_az = 0.25 * az_o
    upper = c + rl * _dir(lid_az, up)
    lower = c + rl * _dir(lid_az, lo)
    # iris landmarks of a closing eye slide toward the lid line
    lid_mid = (upper + lower) / 2
    w = 0.8 * closure[:, None, None]
    iris_seen = iris * (1 - w) + lid_mid * w
    contour = contour * (1 - w[..., None]) + (lid_mid[:, :, None] + (contour - iris[:, :, None]) * 0.5) * w[..., None]
    iris_seen = iris_seen + subject.iris_bias[None]
    upper_side = np.stack([c + rl * _dir(lid_az - 12, up * 0.85), c + rl * _dir(lid_az + 12, up * 0.85)], axis=2)
    lower_side = np.stack([c + rl * _dir(lid_az - 12, lo * 0.85), c + rl * _dir(lid_az + 12, lo * 0.85)], axis=2)
    return dict(iris=iris_seen, contour=contour, upper=upper, lower=lower, upper_side=upper_side, lower_side=lower_side,
                az_o=az_o, el_o=el_o)


def _project(k: np.ndarray, p_cam: np.ndarray) -> np.ndarray:
    q = p_cam @ k.T
    return q[..., :2] / q[..., 2:3]


# ----------------------------------------------------------------------------------------------
# One sequence


@dataclass
class Sequence:
    eye: np.ndarray  # SEQ_LEN×10 raw eye_features
    pyr: np.ndarray  # 3: estimated (pitch, yaw, roll) at the last frame, deg (the model tensor's order)
    pyr_true: np.ndarray  # 3
    head_position_m: np.ndarray  # 3: estimated nose-tip translation at the last frame
    width: int
    height: int
    target_mm: np.ndarray  # 3: fixated point at the last frame (camera plane)
    eye_mid_mm: np.ndarray  # 3: true mid-point of the eyeball centres at the last frame
    target_ref: np.ndarray  # 2: normalized on REFERENCE_SCREEN
    blink: float  # max closure in the sequence
    mode: str
    points_px: np.ndarray | None = None  # SEQ_LEN×478×2 when keep_points

    @property
    def ypr(self) -> np.ndarray:
        """The estimated head pose as (yaw, pitch, roll), the order sentin_ros takes."""
        return self.pyr[[1, 0, 2]]


def generate_sequence(
    rng: np.random.Generator,
    subject: Subject,
    session: Session,
    cfg: GeneratorConfig,
    targets_xy: np.ndarray | None = None,
    pose: tuple[float, float, float] | None = None,
    position_m: tuple[float, float, float] | None = None,
    head_speed_dps: float | None = None,
    mode: str | None = None,
    blink: bool | None = None,
    keep_points: bool = False,
) -> Sequence:
    """One 15-frame sequence. targets_xy: SEQ_LEN×2 (or 2) normalized points on session.screen to
    fixate instead of a random trajectory; pose: base (yaw, pitch, roll) deg; position_m: eye
    mid-point in the optical frame at the first frame."""
    scr = session.screen
    mode = mode or str(rng.choice(list(cfg.modes), p=np.array(list(cfg.modes.values())) / sum(cfg.modes.values())))
    for _attempt in range(50):
        if position_m is None:
            z = rng.uniform(*cfg.distance_m) * 1000
            x_n = rng.uniform(-0.3, 0.3) * session.width / session.k_true[0, 0]
            y_n = rng.uniform(-0.32, 0.3) * session.height / session.k_true[1, 1]
            eye0 = np.array([x_n * z, y_n * z, z])
        else:
            eye0 = np.asarray(position_m, float) * 1000
        base = np.array(pose, float) if pose is not None else np.array(
            [rng.uniform(-cfg.yaw_deg, cfg.yaw_deg), rng.uniform(-cfg.pitch_deg, cfg.pitch_deg), rng.uniform(-cfg.roll_deg, cfg.roll_deg)])
        # head motion: mostly slow drift, sometimes a turn (deg/s), plus tremor
        speed = head_speed_dps if head_speed_dps is not None else (rng.uniform(0, 4) if rng.random() < 0.7 else rng.uniform(4, 30))
        direction = rng.normal(0, 1, 3) * np.array([1.0, 0.7, 0.3])
        direction /= np.linalg.norm(direction) + 1e-9
        t = (np.arange(SEQ_LEN) - (SEQ_LEN - 1)) / session.fps  # <= 0, last frame at t = 0
        angles = base + t[:, None] * speed * direction + rng.normal(0, 0.1, (SEQ_LEN, 3))
        angles = np.clip(angles, [-cfg.yaw_deg - 5, -cfg.pitch_deg - 5, -cfg.roll_deg - 5], [cfg.yaw_deg + 5, cfg.pitch_deg + 5, cfg.roll_deg + 5])
        shift = t[:, None] * rng.normal(0, 30 if speed > 4 else 8, 3)  # mm/s
        eyes_mid = eye0 + shift
        if targets_xy is not None:
            txy = np.broadcast_to(np.asarray(targets_xy, float), (SEQ_LEN, 2))
            targets = scr.to_camera_mm(txy)
            jitter = np.cumsum(rng.normal(0, 0.03 * eye0[2] * np.pi / 180, (SEQ_LEN, 3)), axis=0)
            jitter[:, 2] = 0
            targets = targets + jitter
        else:
            targets = target_trajectory(rng, scr, cfg, session.fps, eye0[2], mode)
        rots = np.array([rotation_from_angles(*a) for a in angles])  # head -> optical
        eye_mid_head = subject.eyeball_mm.mean(0)
        nose = eyes_mid - np.einsum("tij,j->ti", rots, eye_mid_head)
        centres = np.einsum("tij,ej->tei", rots, subject.eyeball_mm) + nose[:, None]  # T×2×3 camera
        vis_cam = targets[:, None] - centres
        vis_cam /= np.linalg.norm(vis_cam, axis=-1, keepdims=True)
        vis_head = np.einsum("tji,tej->tei", rots, vis_cam)  # R^T v
        az, el = _angles(vis_head)
        if targets_xy is not None or pose is not None or (
            np.all(np.abs(az) < cfg.max_eye_in_head_deg[0]) and np.all(np.abs(el) < cfg.max_eye_in_head_deg[1])
        ):
            break
    do_blink = (rng.random() < cfg.blink_prob) if blink is None else blink
    closure = blink_profile(rng, session.fps) if do_blink else np.zeros(SEQ_LEN)
    closure = np.maximum(closure, 0.0)
    ep = eye_points_head(subject, vis_head, closure)

    # 3D -> camera -> pixels, all landmarks we fill
    def to_px(p_head):  # p_head: T×...×3
        shape = p_head.shape
        flat = p_head.reshape(SEQ_LEN, -1, 3)
        cam = np.einsum("tij,tnj->tni", rots, flat) + nose[:, None]
        return _project(session.k_true, cam).reshape(*shape[:-1], 2)

    face = subject.face_mm.copy()
    face_px = to_px(np.broadcast_to(face, (SEQ_LEN, *face.shape)).copy())  # T×18×2
    corner_ids = (_R_OUT, _R_IN, _L_OUT, _L_IN)
    corners_head = face[list(corner_ids)] + subject.corner_bias
    corners_px = to_px(np.broadcast_to(corners_head, (SEQ_LEN, 4, 3)).copy())
    iris_px = to_px(ep["iris"])
    contour_px = to_px(ep["contour"])
    upper_px, lower_px = to_px(ep["upper"]), to_px(ep["lower"])
    upside_px, loside_px = to_px(ep["upper_side"]), to_px(ep["lower_side"])

    pts = np.zeros((SEQ_LEN, L.NUM_LANDMARKS, 2))
    pts[:, list(MODEL_LANDMARKS)] = face_px
    for j, lm in enumerate((L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER, L.LEFT_EYE_OUTER, L.LEFT_EYE_INNER)):
        pts[:, lm] = corners_px[:, j]
    for e, (iris_ids, up_id, lo_id, ear) in enumerate(
        ((L.RIGHT_IRIS, L.RIGHT_EYE_UPPER_LID, L.RIGHT_EYE_LOWER_LID, L.RIGHT_EYE_EAR),
         (L.LEFT_IRIS, L.LEFT_EYE_UPPER_LID, L.LEFT_EYE_LOWER_LID, L.LEFT_EYE_EAR))
    ):
        pts[:, iris_ids[0]] = iris_px[:, e]
        for j in range(4):
            pts[:, iris_ids[1 + j]] = contour_px[:, e, j]
        pts[:, up_id], pts[:, lo_id] = upper_px[:, e], lower_px[:, e]
        pts[:, ear[1]], pts[:, ear[2]] = upside_px[:, e, 0], upside_px[:, e, 1]
        pts[:, ear[4]], pts[:, ear[5]] = loside_px[:, e, 1], loside_px[:, e, 0]

    # noise, in pixels scaled with the face size (MediaPipe works on a face crop)
    iod_px = float(np.linalg.norm(corners_px[-1, :2].mean(0) - corners_px[-1, 2:].mean(0)))
    scale = 0.5 + 0.5 * iod_px / 67.0
    used = np.unique(np.concatenate([list(MODEL_LANDMARKS), [33, 133, 263, 362, 159, 145, 386, 374],
                                     list(L.RIGHT_EYE_EAR), list(L.LEFT_EYE_EAR), list(L.RIGHT_IRIS), list(L.LEFT_IRIS)]))
    noise = np.zeros((SEQ_LEN, len(used), 2))
    innov = rng.normal(0, session.sigma * scale, noise.shape)
    rho = session.rho
    noise[0] = innov[0]
    for i in range(1, SEQ_LEN):
        noise[i] = rho * noise[i - 1] + np.sqrt(1 - rho * rho) * innov[i]
    pts[:, used] += noise + rng.normal(0, session.sigma_common * scale, (SEQ_LEN, 1, 2))
    iris_extra = rng.normal(0, session.sigma_iris * scale, (SEQ_LEN, 2, 2)) * (1 + 2 * closure[:, None, None])
    pts[:, L.RIGHT_IRIS[0]] += iris_extra[:, 0]
    pts[:, L.LEFT_IRIS[0]] += iris_extra[:, 1]

    feats = np.stack([eye_features(pts[i], session.width, session.height) for i in range(SEQ_LEN)])
    hp = _ESTIMATOR.estimate(pts[-1], session.width, session.height)
    if hp is None:
        pyr, pos = np.array([angles[-1, 1], angles[-1, 0], angles[-1, 2]]), nose[-1] / 1000
    else:
        pyr, pos = np.array([hp.pitch, hp.yaw, hp.roll]), np.array(hp.translation_m)
    pyr = pyr + subject.pose_bias
    return Sequence(
        eye=feats.astype(np.float32),
        pyr=pyr.astype(np.float32),
        pyr_true=np.array([angles[-1, 1], angles[-1, 0], angles[-1, 2]], np.float32),
        head_position_m=pos.astype(np.float32),
        width=session.width,
        height=session.height,
        target_mm=targets[-1],
        eye_mid_mm=centres[-1].mean(0),
        target_ref=REFERENCE_SCREEN.from_camera_mm(targets[-1]),
        blink=float(closure.max()),
        mode=mode,
        points_px=pts if keep_points else None,
    )


def generate_dataset(n: int, seed: int, cfg: GeneratorConfig | None = None, sequences_per_subject: int = 1) -> dict[str, np.ndarray]:
    """n sequences as arrays (keys: eye, pyr, pyr_true, head_position_m, width, height, target_mm,
    eye_mid_mm, target_ref, blink, subject)."""
    cfg = cfg or GeneratorConfig()
    rng = np.random.default_rng(seed)
    rows = []
    subject = session = None
    for i in range(n):
        if i % sequences_per_subject == 0:
            subject, session = sample_subject(rng, cfg), sample_session(rng, cfg)
        s = generate_sequence(rng, subject, session, cfg)
        rows.append(s)
    return {
        "eye": np.stack([r.eye for r in rows]),
        "pyr": np.stack([r.pyr for r in rows]),
        "pyr_true": np.stack([r.pyr_true for r in rows]),
        "head_position_m": np.stack([r.head_position_m for r in rows]),
        "width": np.array([r.width for r in rows]),
        "height": np.array([r.height for r in rows]),
        "target_mm": np.stack([r.target_mm for r in rows]).astype(np.float32),
        "eye_mid_mm": np.stack([r.eye_mid_mm for r in rows]).astype(np.float32),
        "target_ref": np.stack([r.target_ref for r in rows]).astype(np.float32),
        "blink": np.array([r.blink for r in rows], np.float32),
        "subject": np.arange(n) // sequences_per_subject,
    }
