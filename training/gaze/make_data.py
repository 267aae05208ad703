"""Generate training chunks in parallel (same chunk seeds as train.load_or_generate, numpy + OpenCV only).

    python -m training.gaze.make_data --split train --n 144000 --seed 1 --workers 16 --out DIR [--packs 4]

Writes DIR/part_<split>_s<seed>_<i>_2000.npz (the files train.py reads from training/out/gaze/), or,
with --packs K, K files DIR/pack_<k>.npz holding several chunks (keys '<part name>/<array>'), for
moving them between machines; `--unpack FILE... --out DIR` splits packs into part files again.
"""
from __future__ import annotations

import argparse
import os
import sys
from multiprocessing import Pool

import numpy as np

CHUNK = 2000


def _one(job):
    split, seed, i, n, out = job
    from . import generator as G

    name = f"part_{split}_s{seed}_{i}_{n}"
    path = os.path.join(out, name + ".npz")
    if not os.path.exists(path):
        d = G.generate_dataset(n, seed * 100003 + i)
        np.savez_compressed(path + ".tmp.npz", **d)
        os.replace(path + ".tmp.npz", path)
    return name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train")
    ap.add_argument("--n", type=int, default=144000)
    ap.add_argument("--start", type=int, default=0, help="first sequence index (chunks below it are made elsewhere)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--packs", type=int, default=0)
    ap.add_argument("--unpack", nargs="*")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.unpack:
        for f in args.unpack:
            d = np.load(f)
            names = sorted({k.split("/")[0] for k in d.files})
            for name in names:
                np.savez_compressed(os.path.join(args.out, name + ".npz"), **{k.split("/")[1]: d[k] for k in d.files if k.startswith(name + "/")})
            print(f"{f}: {len(names)} chunks")
        return 0
    jobs = [(args.split, args.seed, i, min(CHUNK, args.n - i), args.out) for i in range(args.start, args.n, CHUNK)]
    with Pool(args.workers) as pool:
        names = pool.map(_one, jobs, chunksize=1)
    if args.packs:
        for k in range(args.packs):
            group = names[k::args.packs]
            arrays = {}
            for name in group:
                d = np.load(os.path.join(args.out, name + ".npz"))
                arrays.update({f"{name}/{key}": d[key] for key in d.files})
            np.savez_compressed(os.path.join(args.out, f"pack_{k}.npz"), **arrays)
            for name in group:
                os.remove(os.path.join(args.out, name + ".npz"))
    print(f"{len(names)} chunks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
