r"""One resumable command: train -> select on validation -> INT8 export -> metrics JSON.

    python -m training.biometrics.train --data ../shared/datasets/utkface64.npz \
        --out training/out/biometrics

Trains model.SoftBiometricsCNN on the training split (data.split_indices, fixed seed) with
PyTorch on the CPU (bf16 autocast with channels_last: oneDNN's AMX/AVX-512 bf16 kernels are
~1.6x faster than float32 on the development machine; the master weights stay float32).
Loss: KL divergence to a Gaussian soft label over the age bins + 0.05 x |expected age - age|
(years) + binary cross-entropy of the gender logit. Augmentation on the batch: mirror, a small
random similarity (rotation +-10 deg, scale +-8 %, shift +-3 px; the run-time crop from our
landmarks is not exactly UTKFace's dlib alignment) and brightness / contrast jitter.

Every epoch writes OUT/ckpt.pt (model, EMA, optimiser, RNG, history); rerunning the same
command resumes from it. Each epoch the raw and the EMA weights are scored on the validation
split with score = age MAE (years) + 25 x gender error (one point of gender accuracy weighs a
quarter year); the best goes to OUT/best.pt. The test split is never looked at here.
When training is complete and TensorFlow is importable, export.py runs in the same command.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from .model import AGE_CENTRES, SoftBiometricsCNN, age_targets, macs, n_params

GENDER_WEIGHT = 25.0  # years of age MAE per unit of gender error in the selection score


def atomic_save(obj, path: str) -> None:
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def selection_score(age_mae: float, gender_acc: float) -> float:
    return age_mae + GENDER_WEIGHT * (1.0 - gender_acc)


def to_input(x_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 64, 64, 3) BGR -> float (B, 3, 64, 64) in [0, 1], channels_last."""
    return x_u8.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=torch.channels_last)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    flip = torch.rand(b, generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    ang = (torch.rand(b, generator=g) * 2 - 1) * math.radians(10)
    sc = 1 + (torch.rand(b, generator=g) * 2 - 1) * 0.08
    tx, ty = ((torch.rand(2, b, generator=g) * 2 - 1) * (3 / 32))
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    bright = (torch.rand(b, 1, 1, 1, generator=g) * 2 - 1) * 0.15
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=g) * 2 - 1) * 0.2
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + bright).clamp_(0, 1)
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict(model, x_u8: torch.Tensor, bs: int = 256, flip: bool = False, bf16: bool = True):
    """-> (age probabilities (N, bins), gender probabilities (N,)), numpy float32."""
    model.eval()
    ps, gs = [], []
    for i in range(0, len(x_u8), bs):
        x = to_input(x_u8[i:i + bs])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            a, g = model(x)
            p, q = a.float().softmax(1), torch.sigmoid(g.float())
            if flip:
                a2, g2 = model(x.flip(3))
                p, q = (p + a2.float().softmax(1)) / 2, (q + torch.sigmoid(g2.float())) / 2
        ps.append(p)
        gs.append(q)
    return torch.cat(ps).numpy(), torch.cat(gs).numpy()


def scores(probs: np.ndarray, pg: np.ndarray, age: np.ndarray, gender: np.ndarray) -> dict:
    mean = probs @ AGE_CENTRES
    return {"age_mae": float(np.abs(mean - age).mean()), "gender_accuracy": float(((pg >= 0.5) == gender).mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA, help="utkface64.npz")
    ap.add_argument("--out", default="training/out/biometrics")
    ap.add_argument("--epochs", type=int, default=28)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3, help="AdamW peak learning rate")
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--ema-decay", type=float, default=0.997)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-bf16", action="store_true", help="train in float32")
    ap.add_argument("--limit-train", type=int, default=0, help="debug: first N training rows")
    ap.add_argument("--stop-after", type=int, default=0, help="debug: stop after N epochs (resumable)")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--models-dir", default="models")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    bf16 = not a.no_bf16

    labels = D.load_labels(a.data)
    images = D.load_images(a.data, a.out)
    sp = D.split_indices(len(images))
    tr = sp["train"][:a.limit_train] if a.limit_train else sp["train"]
    xtr, xval = torch.from_numpy(images[tr]), torch.from_numpy(images[sp["val"]])
    age_tr = torch.from_numpy(labels["age"][tr])
    gen_tr = torch.from_numpy(labels["gender"][tr]).float()
    age_val, gen_val = labels["age"][sp["val"]], labels["gender"][sp["val"]]

    model = SoftBiometricsCNN().to(memory_format=torch.channels_last)
    ema = SoftBiometricsCNN().to(memory_format=torch.channels_last)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    steps = len(xtr) // a.batch
    total, warm = a.epochs * steps, steps

    def lr_at(step: int) -> float:
        if step < warm:
            return a.lr * (step + 1) / warm
        return a.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    gen = torch.Generator().manual_seed(a.seed)
    state = {"epoch": 0, "best": None, "history": [], "train_s": 0.0}
    ckpt = os.path.join(a.out, "ckpt.pt")
    if os.path.exists(ckpt):
        ck = torch.load(ckpt, weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["rng"])
        state = ck["state"]
        print(f"resumed after epoch {state['epoch']}", flush=True)
    print(f"params={n_params(model)} MACs={macs() / 1e6:.1f}M train={len(xtr)} val={len(xval)} "
          f"steps/epoch={steps} bf16={bf16} threads={a.threads}", flush=True)

    done_now = 0
    while state["epoch"] < a.epochs:
        if a.stop_after and done_now >= a.stop_after:
            print("stopped (--stop-after); rerun to resume", flush=True)
            return 3
        ep, t0 = state["epoch"], time.time()
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        loss_sum = 0.0
        for it in range(steps):
            for grp in opt.param_groups:
                grp["lr"] = lr_at(ep * steps + it)
            idx = perm[it * a.batch:(it + 1) * a.batch]
            x = augment(to_input(xtr[idx]), gen)
            age, g = age_tr[idx], gen_tr[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                la, lg = model(x)
            la, lg = la.float(), lg.float()
            logp = F.log_softmax(la, 1)
            t = age_targets(age)
            kl = (t * (torch.log(t.clamp_min(1e-8)) - logp)).sum(1).mean()
            l1 = (logp.exp() @ torch.as_tensor(AGE_CENTRES) - age.float()).abs().mean()
            bce = F.binary_cross_entropy_with_logits(lg, g * 0.96 + 0.02)
            loss = kl + 0.05 * l1 + bce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                ep_, mp_ = list(ema.parameters()), list(model.parameters())
                torch._foreach_mul_(ep_, a.ema_decay)
                torch._foreach_add_(ep_, mp_, alpha=1 - a.ema_decay)
                for be, bm in zip(ema.buffers(), model.buffers()):
                    be.copy_(bm)
            loss_sum += float(loss.detach())
        train_s = time.time() - t0
        res = {}
        for name, net in (("raw", model), ("ema", ema)):
            res[name] = scores(*predict(net, xval, bf16=bf16), age_val, gen_val)
            res[name]["score"] = selection_score(res[name]["age_mae"], res[name]["gender_accuracy"])
        which = min(res, key=lambda k: res[k]["score"])
        state["epoch"] = ep + 1
        state["train_s"] += train_s
        rec = {"epoch": ep + 1, "loss": round(loss_sum / steps, 4), "train_s": round(train_s, 1),
               "eval_s": round(time.time() - t0 - train_s, 1),
               **{f"{k}_{m}": round(v[m], 4) for k, v in res.items() for m in v}}
        state["history"].append(rec)
        print(json.dumps(rec), flush=True)
        if state["best"] is None or res[which]["score"] < state["best"]["score"]:
            state["best"] = {"epoch": ep + 1, "which": which, **res[which]}
            net = model if which == "raw" else ema
            atomic_save({k: v.detach().clone().contiguous() for k, v in net.state_dict().items()},
                        os.path.join(a.out, "best_state.pt"))
        atomic_save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                     "gen": gen.get_state(), "rng": torch.get_rng_state(), "state": state}, ckpt)
        done_now += 1

    sd = torch.load(os.path.join(a.out, "best_state.pt"), weights_only=True)
    net = SoftBiometricsCNN()
    net.load_state_dict(sd)
    net.eval()
    # float32 reference outputs (no bf16) for export.py's check of the Keras copy
    pa, pg = predict(net, xval[:64], bf16=False)
    summary = {"command": "python -m training.biometrics.train " + " ".join(argv if argv is not None else sys.argv[1:]),
               "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "wd": a.wd, "ema_decay": a.ema_decay,
               "bf16": bf16, "threads": a.threads, "best": state["best"], "train_s": round(state["train_s"], 1),
               "params": n_params(net), "macs": macs(), "split_seed": D.SPLIT_SEED,
               "split_sizes": {k: int(len(v)) for k, v in sp.items()}, "history": state["history"]}
    atomic_save({"state_dict": sd, "widths": net.widths, "depths": net.depths, "emb": net.emb,
                 "ref": {"val_rows": sp["val"][:64], "age_probs": pa, "gender_prob": pg}, "summary": summary},
                os.path.join(a.out, "final.pt"))
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("best: " + json.dumps(state["best"]), flush=True)
    if a.no_export:
        return 0
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        print("TensorFlow not installed: run training.biometrics.export next", flush=True)
        return 0
    from . import export
    return export.main(["--data", a.data, "--out", a.out, "--models-dir", a.models_dir])


if __name__ == "__main__":
    sys.exit(main())
