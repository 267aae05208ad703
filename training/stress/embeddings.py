"""The emotion-model embeddings of FER2013 Training faces: the embedding half of the stress data.

    python training/stress/embeddings.py [--model models/affective_cnn_int8.tflite] [--standin]

Writes training/out/stress/bank_train.npz and bank_heldout.npz (git-ignored) and the small
fixture training/stress/fixtures/heldout_bank.npz (committed; the tests run the generator on it).
--standin writes under training/out/stress/standin/ only.

The 28,709 Training faces are split by a seeded permutation into 90 % "train" (sequences the TCN is
trained on) and 10 % "held-out" (sequences it is evaluated and tested on: faces it never saw).

`extract_embeddings` is the one place that runs the emotion model; it uses the project's LiteRT
runtime exactly as the nodes do (float input pixel/255, the model's int8 quantization, dequantized
outputs told apart by shape: 1x7 probabilities, 1x256 embedding). `standin_embeddings` is a fixed
random projection used only to build and test the pipeline before the real model exists.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, ROOT)

FER = os.path.abspath(os.path.join(ROOT, "..", "shared", "datasets", "fer2013.npz"))
EMOTION_MODEL = os.path.join(ROOT, "models", "affective_cnn_int8.tflite")
OUT = os.path.join(ROOT, "training", "out", "stress")
FIXTURE = os.path.join(HERE, "fixtures", "heldout_bank.npz")
HELDOUT_FRACTION = 0.1
SPLIT_SEED = 20240  # the train / held-out split of FER2013 Training faces
FIXTURE_PER_CLASS = 100


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def extract_embeddings(model_path: str, pixels: np.ndarray, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48, 48) uint8 faces -> (N, 256) float32 embeddings, (N, 7) float32 probabilities."""
    from sentin_ros.runtime import LiteModel

    m = LiteModel(model_path, expected_inputs=[(1, 48, 48, 1)], expected_outputs=[(1, 7), (1, 256)])
    inp = m.inputs[0].index
    o_p, o_e = m.output_by_shape((1, 7)).index, m.output_by_shape((1, 256)).index
    emb = np.zeros((len(pixels), 256), np.float32)
    probs = np.zeros((len(pixels), 7), np.float32)
    t0 = time.time()
    for i, face in enumerate(pixels):
        out = m.run({inp: (face.astype(np.float32) / 255.0)[None, :, :, None]})
        emb[i], probs[i] = out[o_e][0], out[o_p][0]
        if i % 5000 == 0:
            log(f"  {i}/{len(pixels)} faces ({time.time() - t0:.0f} s)")
    m.close()
    return emb, probs


def standin_embeddings(pixels: np.ndarray, labels: np.ndarray, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in only (pipeline testing before the emotion model exists): mimics a ~65 %-accurate
    classifier: ReLU of a class prototype (the label, or a random class 35 % of the time) plus a
    fixed random projection of the standardised 24x24 face; probabilities peaked on that class."""
    rng = np.random.default_rng(seed)
    x = pixels.reshape(-1, 24, 2, 24, 2).mean((2, 4)).reshape(len(pixels), -1).astype(np.float32)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-3)
    w = rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], 256)).astype(np.float32)
    proto = rng.normal(0, 1.0, (7, 256)).astype(np.float32)
    pred = np.where(rng.random(len(labels)) < 0.65, labels, rng.integers(0, 7, len(labels)))
    emb = np.maximum(proto[pred] + 0.7 * (x @ w), 0.0) * 1.5
    probs = np.full((len(labels), 7), 0.05, np.float32)
    probs[np.arange(len(labels)), pred] = 0.7
    return emb.astype(np.float32), probs


def split(n: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    k = int(round(n * HELDOUT_FRACTION))
    return np.sort(perm[k:]), np.sort(perm[:k])


def build(fer: str, model: str | None, out_dir: str = OUT, fixture: str = FIXTURE, log=print) -> dict:
    data = np.load(fer, allow_pickle=False)
    rows = np.flatnonzero(data["usage"] == 0)
    pixels, labels = data["pixels"][rows], data["label"][rows].astype(np.int8)
    if model:
        source = f"{os.path.basename(model)} sha256:{sha256(model)[:16]}"
        log(f"embedding {len(rows)} FER2013 Training faces with {source}")
        emb, probs = extract_embeddings(model, pixels, log)
    else:
        source = "STAND-IN random projection (not the emotion model)"
        log(f"embedding {len(rows)} faces with the {source}")
        emb, probs = standin_embeddings(pixels, labels)
    tr, ho = split(len(rows))
    os.makedirs(out_dir, exist_ok=True)
    for name, idx in (("train", tr), ("heldout", ho)):
        np.savez(
            os.path.join(out_dir, f"bank_{name}.npz"), embeddings=emb[idx], labels=labels[idx],
            probs=probs[idx] if len(probs) else probs, rows=rows[idx], source=np.array(source),
        )
    # Fixture: up to FIXTURE_PER_CLASS held-out faces per class, float16 (used by the tests).
    rng = np.random.default_rng(1)
    pick = []
    for c in range(7):
        idx = np.flatnonzero(labels[ho] == c)
        if len(probs):  # prefer faces the emotion model agrees with (those make the class pools)
            idx = idx[np.argsort(-probs[ho][idx, c])][: FIXTURE_PER_CLASS * 2]
        pick.append(rng.choice(idx, size=min(FIXTURE_PER_CLASS, len(idx)), replace=False))
    sel = ho[np.sort(np.concatenate(pick))]
    os.makedirs(os.path.dirname(fixture), exist_ok=True)
    np.savez_compressed(
        fixture, embeddings=emb[sel].astype(np.float16), labels=labels[sel],
        probs=(probs[sel] if len(probs) else probs).astype(np.float16), rows=rows[sel].astype(np.int32),
        source=np.array(source),
    )
    info = {"source": source, "train_faces": int(len(tr)), "heldout_faces": int(len(ho)), "fixture_faces": int(len(sel)),
            "fixture_bytes": os.path.getsize(fixture)}
    if len(probs):
        info["emotion_model_accuracy_on_training_faces"] = round(float((probs.argmax(1) == labels).mean()), 4)
    log(f"bank: {info}")
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fer", default=FER)
    ap.add_argument("--model", default=EMOTION_MODEL)
    ap.add_argument("--standin", action="store_true", help="random-projection stand-in (pipeline testing only)")
    args = ap.parse_args()
    if args.standin:  # never overwrite the real bank or the committed fixture with stand-in data
        build(args.fer, None, os.path.join(OUT, "standin"), os.path.join(OUT, "standin", "fixture.npz"))
    else:
        build(args.fer, args.model)


if __name__ == "__main__":
    main()
