r"""Train the small default emotion model (issue 13): distil -> train -> select -> export.

    python -m training.emotion.small_train --data ../shared/datasets/fer2013.npz \
        --out training/out/emotion_small

One resumable command, CPU, one thread by default:
 1. distillation targets (training.emotion.distill) unless OUT/targets.npz exists;
 2. training with a checkpoint after every epoch (OUT/ckpt.pt). Rerun the same command after
    an interruption: it resumes from the last finished epoch (optimizer, EMA, RNG, schedule);
 3. selection on PublicTest only (raw or EMA weights of any epoch, single view, as deployed),
    the selected weights in OUT/best.pt;
 4. export + measurement (training.emotion.small_export) unless --no-export.

Targets per training image: w_hard * smoothed one-hot(FER2013 label) + w_teacher * teacher
probabilities + w_ferplus * FER+ vote distribution (rows without FER+ votes put that weight
on the teacher). Loss: soft-target cross-entropy (= KL up to a constant), applied to the
augmented view (random affine with flip, photometric jitter, random erasing).
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
from .augment import augment
from .distill import DEFAULT_TEACHER, TEACHER_VIEWS, make_targets
from .small_model import DEFAULT_CONFIG, SmallAffectiveCNN, count_macs, n_params


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def predict(net, x_u8: np.ndarray, mirror: bool = False, bs: int = 512) -> np.ndarray:
    net.eval()
    out = []
    for i in range(0, len(x_u8), bs):
        x = torch.from_numpy(x_u8[i:i + bs]).unsqueeze(1).float().div_(255)
        x = x.contiguous(memory_format=torch.channels_last)
        p = net(x)[0].softmax(1)
        if mirror:
            p = 0.5 * (p + net(torch.flip(x, dims=[3]))[0].softmax(1))
        out.append(p.numpy())
    return np.concatenate(out)


def build_targets(d: dict, tg: dict, a) -> np.ndarray:
    m = d["usage"] == D.SPLITS["Training"]
    y = d["label"][m].astype(np.int64)
    hard = np.full((len(y), 7), a.label_smoothing / 7, np.float32)
    hard[np.arange(len(y)), y] += 1 - a.label_smoothing
    teacher = tg["teacher"][m]
    fp, has = tg["ferplus"][m], tg["has_ferplus"][m]
    wt = np.where(has, a.w_teacher, a.w_teacher + a.w_ferplus)[:, None]
    wf = np.where(has, a.w_ferplus, 0.0)[:, None]
    t = a.w_hard * hard + wt * teacher + wf * fp
    return (t / t.sum(1, keepdims=True)).astype(np.float32)


def param_groups(net, wd):
    decay, no = [], []
    for p in net.parameters():
        (no if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no, "weight_decay": 0.0}]


def train(a) -> dict:
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    os.makedirs(a.out, exist_ok=True)
    d = D.load(a.data)
    tpath = os.path.join(a.out, "targets.npz")
    if not os.path.exists(tpath):
        make_targets(a.data, a.teacher, tpath, a.teacher_views)
    tg = dict(np.load(tpath))
    if str(tg.get("teacher_views", "single")) != a.teacher_views:
        raise SystemExit(f"{tpath} holds the teacher's {tg.get('teacher_views', 'single')} views, "
                         f"--teacher-views is {a.teacher_views}")
    xtr, ytr = D.split(d, "Training")
    xpub, ypub = D.split(d, "PublicTest")
    if a.limit_train:
        xtr, ytr = xtr[:a.limit_train], ytr[:a.limit_train]
    if a.limit_eval:
        xpub, ypub = xpub[:a.limit_eval], ypub[:a.limit_eval]
    init = None
    if a.init:  # fine-tuning: start from a trained model's weights (its best.pt)
        init = torch.load(a.init, map_location="cpu", weights_only=False)
        if init["config"] != a.config:
            raise SystemExit(f"--init is a {init['config']} model, --config is {a.config}")
    if a.w_self:  # the init model's own mirror-averaged outputs join the teacher's
        if init is None:
            raise SystemExit("--w-self needs --init")
        spath = os.path.join(a.out, "self_targets.npy")
        if not os.path.exists(spath):
            m0 = SmallAffectiveCNN(a.config).to(memory_format=torch.channels_last)
            m0.load_state_dict(init["state_dict"])
            np.save(spath, predict(m0, d["pixels"], mirror=True).astype(np.float32))
        train_rows = d["usage"] == D.SPLITS["Training"]
        t = tg["teacher"].copy()
        t[train_rows] = (1 - a.w_self) * t[train_rows] + a.w_self * np.load(spath)[train_rows]
        tg = {**tg, "teacher": t}
    targets = torch.from_numpy(build_targets(d, tg, a)[:len(xtr)])
    xtr_t = torch.from_numpy(xtr)
    bank_x = bank_t = None
    if a.teacher_bank:  # augmented views labelled by the teacher on their own pixels (teacher_bank)
        bank = np.load(a.teacher_bank)
        if str(bank["teacher_sha256"]) != str(tg["teacher_sha256"]):
            raise SystemExit("the teacher bank comes from another teacher than targets.npz")
        bank_x = torch.from_numpy(bank["images"][:, :len(xtr)])
        train_rows = d["usage"] == D.SPLITS["Training"]

        def with_view(view_probs):
            t = tg["teacher"].copy()
            t[train_rows] = view_probs
            return build_targets(d, {**tg, "teacher": t}, a)[:len(xtr)]

        bank_t = torch.from_numpy(np.stack([with_view(bt) for bt in bank["teacher"]]))

    if a.extra:  # transfer images labelled by the teacher alone (transfer_set.py)
        if bank_x is not None:
            raise SystemExit("--extra and --teacher-bank do not combine")
        ex = np.load(a.extra)
        if str(ex["teacher_sha256"]) != str(tg["teacher_sha256"]):
            raise SystemExit("the --extra images were labelled by another teacher than targets.npz")
        t_extra = ex["teacher"]
        if a.w_self:
            epath = os.path.join(a.out, "self_targets_extra.npy")
            if not os.path.exists(epath):
                m0 = SmallAffectiveCNN(a.config).to(memory_format=torch.channels_last)
                m0.load_state_dict(init["state_dict"])
                np.save(epath, predict(m0, ex["images"], mirror=True).astype(np.float32))
            t_extra = (1 - a.w_self) * t_extra + a.w_self * np.load(epath)
        xtr = np.concatenate([xtr, ex["images"]])
        xtr_t = torch.from_numpy(xtr)
        targets = torch.cat([targets, torch.from_numpy((t_extra / t_extra.sum(1, keepdims=True)).astype(np.float32))])

    torch.manual_seed(a.seed)
    net = SmallAffectiveCNN(a.config, dropout=a.dropout).to(memory_format=torch.channels_last)
    if init is not None:
        net.load_state_dict(init["state_dict"])
    ema = SmallAffectiveCNN(a.config, dropout=a.dropout).to(memory_format=torch.channels_last)
    ema.load_state_dict(net.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(net, a.wd), lr=a.lr, betas=(0.9, 0.999))
    bs = a.batch
    steps = len(xtr) // bs
    ckpt = os.path.join(a.out, "ckpt.pt")
    best_path = os.path.join(a.out, "best.pt")
    state = {"epoch": 0, "elapsed_s": 0.0, "done": False, "history": [], "best": None,
             "args": vars(a)}
    if os.path.exists(ckpt):
        ck = torch.load(ckpt, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        if "opt" in ck:  # a finished run carried across sessions (training/carry.sh) has neither
            ema.load_state_dict(ck["ema"])
            opt.load_state_dict(ck["opt"])
        state = ck["state"]
        torch.set_rng_state(ck["rng"])
        print(f"resumed after epoch {state['epoch']} ({state['elapsed_s']:.0f}s of training)",
              flush=True)

    def lr_at(progress):
        """progress in [0, 1] of the schedule: linear warm-up, then cosine to final_lr."""
        if progress < a.warmup_frac:
            return a.lr * max(progress, 1e-3) / a.warmup_frac
        q = min(1.0, (progress - a.warmup_frac) / (1 - a.warmup_frac))
        return a.lr * (a.final_lr_frac + (1 - a.final_lr_frac) * 0.5 * (1 + math.cos(math.pi * q)))

    def progress_at(ep, it, t_ep0):
        if a.epochs:  # fixed epochs: progress by steps (reproducible)
            return (ep * steps + it) / (a.epochs * steps)
        # wall-clock budget: the schedule ends when the training time reaches --budget-s,
        # whatever the speed of the (shared) CPU; time is counted across resumes
        return (state["elapsed_s"] + time.time() - t_ep0) / a.budget_s

    macs = count_macs(SmallAffectiveCNN(a.config))
    print(f"config {a.config}: {macs / 1e6:.2f} M MACs, {n_params(net):,} params; "
          f"{len(xtr)} training images, batch {bs}, {steps} steps/epoch", flush=True)
    while not state["done"]:
        ep = state["epoch"]
        net.train()
        t0 = time.time()
        g = torch.Generator().manual_seed(a.seed * 1000 + ep)
        perm = torch.randperm(len(xtr), generator=g)
        loss_sum = 0.0
        n_done = 0
        for it in range(steps):
            prog = progress_at(ep, it, t0)
            if prog >= 1.0:
                break
            lr = lr_at(prog)
            for gp in opt.param_groups:
                gp["lr"] = lr
            idx = perm[it * bs:(it + 1) * bs]
            x = xtr_t[idx].unsqueeze(1).float().div_(255)
            x = augment(x, g, rot_deg=a.rot, scale=a.scale, shift=a.shift,
                        erase_p=a.erase_p, photometric=a.photometric, sharp_p=a.sharp_p)
            yt = targets[idx]
            if bank_x is not None:
                use = torch.nonzero(torch.rand(len(idx), generator=g) < a.bank_p)[:, 0]
                view = torch.randint(0, len(bank_x), (len(use),), generator=g)
                xb = bank_x[view, idx[use]].unsqueeze(1).float().div_(255)
                flip = torch.rand(len(use), generator=g) < 0.5  # free: the teacher averages both
                xb[flip] = xb[flip].flip(3)
                x[use] = xb
                yt = yt.clone()
                yt[use] = bank_t[view, idx[use]]
            x = x.contiguous(memory_format=torch.channels_last)
            if a.flip_consistency:  # the face and its mirror in one batch, pulled together
                x = torch.cat([x, x.flip(3)]).contiguous(memory_format=torch.channels_last)
                yt = torch.cat([yt, yt])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                logits = net(x)[0]
            logp = F.log_softmax(logits.float(), 1)
            loss = -(yt * logp).sum(1).mean()
            if a.flip_consistency:
                half = len(logp) // 2
                mean_p = (0.5 * (logp[:half].exp() + logp[half:].exp())).detach()
                loss = loss - a.flip_consistency * (
                    mean_p * (logp[:half] + logp[half:])).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                ep_, mp_ = list(ema.parameters()), list(net.parameters())
                dec = a.ema_decay
                if a.ema_warmup:  # TF-style: min(decay, (1 + t) / (10 + t)), t = global step
                    t_ = ep * steps + it
                    dec = min(dec, (1 + t_) / (10 + t_))
                torch._foreach_mul_(ep_, dec)
                torch._foreach_add_(ep_, mp_, alpha=1 - dec)
                for be, bm in zip(ema.buffers(), net.buffers()):
                    be.copy_(bm)
            loss_sum += float(loss.detach())
            n_done += 1
            if a.log_every and (it + 1) % a.log_every == 0:
                print(f"  ep {ep + 1} step {it + 1}/{steps} loss {loss_sum / (it + 1):.4f} "
                      f"{(time.time() - t0) / (it + 1) * 1000:.0f} ms/step", flush=True)
        train_s = time.time() - t0
        res = {name: float((predict(m_, xpub).argmax(1) == ypub).mean())
               for name, m_ in (("raw", net), ("ema", ema))}
        ep_s = time.time() - t0
        state["elapsed_s"] += ep_s
        state["epoch"] = ep + 1
        if (a.epochs and ep + 1 >= a.epochs) or (not a.epochs and (
                n_done < steps or state["elapsed_s"] >= a.budget_s)):
            state["done"] = True
        which = max(res, key=res.get)
        rec = {"epoch": ep + 1, "steps": n_done, "loss": round(loss_sum / max(1, n_done), 4),
               "lr": round(lr, 6), "elapsed_s": round(state["elapsed_s"], 1),
               "train_s": round(train_s, 1), "epoch_s": round(ep_s, 1),
               "public_raw": round(res["raw"], 4), "public_ema": round(res["ema"], 4)}
        state["history"].append(rec)
        print(json.dumps(rec), flush=True)
        if state["best"] is None or res[which] > state["best"]["public"]:
            state["best"] = {"epoch": ep + 1, "which": which, "public": res[which]}
            src = net if which == "raw" else ema
            atomic_save({"config": a.config, "state_dict": {
                k: v.detach().clone() for k, v in src.state_dict().items()},
                "best": state["best"]}, best_path)
        atomic_save({"model": net.state_dict(), "ema": ema.state_dict(),
                     "opt": opt.state_dict(), "state": state, "rng": torch.get_rng_state()},
                    ckpt)
    # final record (selection done on PublicTest; PrivateTest only reported)
    best = torch.load(best_path, map_location="cpu", weights_only=False)
    net = SmallAffectiveCNN(best["config"])
    net.load_state_dict(best["state_dict"])
    net = net.to(memory_format=torch.channels_last)
    xpriv, ypriv = D.split(d, "PrivateTest")
    xpub, ypub = D.split(d, "PublicTest")
    acc = {}
    for split, (x, y) in (("PublicTest", (xpub, ypub)), ("PrivateTest", (xpriv, ypriv))):
        acc[split] = {"single": round(float((predict(net, x).argmax(1) == y).mean()), 4),
                      "mirror": round(float((predict(net, x, True).argmax(1) == y).mean()), 4)}
    result = {"config": a.config, "macs": macs, "params": n_params(net), "best": state["best"],
              "epochs": state["epoch"], "history": state["history"],
              "train_time_s": round(sum(h["epoch_s"] for h in state["history"]), 1),
              "torch_fp32": acc, "args": state["args"]}
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("done:", json.dumps({k: result[k] for k in ("best", "torch_fp32", "train_time_s")}),
          flush=True)
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--out", default="training/out/emotion_small")
    ap.add_argument("--teacher", default=DEFAULT_TEACHER,
                    help="the large INT8 model used as teacher (the default before issue 13)")
    ap.add_argument("--config", default=DEFAULT_CONFIG)
    ap.add_argument("--teacher-views", choices=list(TEACHER_VIEWS), default="single",
                    help="the teacher's outputs on each face as is, or averaged over 7 views "
                         "(distill.TEACHER_VIEWS)")
    ap.add_argument("--epochs", type=int, default=0,
                    help="fixed number of epochs (0: the schedule runs on wall-clock time and "
                         "ends after --budget-s seconds of training)")
    ap.add_argument("--budget-s", type=float, default=5400)
    ap.add_argument("--extra", default="",
                    help="an npz of extra 48×48 images with the teacher's outputs (transfer_set.py), "
                         "added to every epoch with the teacher's output as the whole target")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3, help="AdamW peak learning rate")
    ap.add_argument("--final-lr-frac", type=float, default=0.0)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup-frac", type=float, default=0.04,
                    help="share of the schedule spent in linear warm-up")
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--ema-decay", type=float, default=0.999)
    ap.add_argument("--ema-warmup", action="store_true",
                    help="EMA decay min(decay, (1+t)/(10+t)): the EMA forgets the random "
                         "initialisation early (without it, 0.999 from step 0 keeps the EMA "
                         "useless for the first ~10 epochs)")
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--w-hard", type=float, default=0.4)
    ap.add_argument("--w-teacher", type=float, default=0.45)
    ap.add_argument("--w-ferplus", type=float, default=0.15)
    ap.add_argument("--rot", type=float, default=10.0)
    ap.add_argument("--scale", type=float, default=0.10)
    ap.add_argument("--shift", type=float, default=0.08)
    ap.add_argument("--photometric", type=float, default=0.2)
    ap.add_argument("--erase-p", type=float, default=0.25)
    ap.add_argument("--sharp-p", type=float, default=0.0,
                    help="share of faces only flipped and shifted by whole pixels, not resampled")
    ap.add_argument("--teacher-bank", default="",
                    help="teacher_bank.py output: a share (--bank-p) of each batch is a random "
                         "augmented view of the face with the teacher's output on that view")
    ap.add_argument("--bank-p", type=float, default=0.5)
    ap.add_argument("--init", default="",
                    help="fine-tune: start from this best.pt's weights (a new schedule, optimizer "
                         "and EMA)")
    ap.add_argument("--w-self", type=float, default=0.0,
                    help="with --init: this share of the teacher's probabilities is replaced by the "
                         "init model's own mirror-averaged outputs (self-distillation of the mirror)")
    ap.add_argument("--flip-consistency", type=float, default=0.0,
                    help="train each batch with its mirror and add this weight times the "
                         "cross-entropy of both views to their mean (the one-view output learns "
                         "what mirror averaging gives)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bf16", action="store_true",
                    help="bf16 autocast for the training forward pass (oneDNN AMX/AVX-512 bf16: about "
                         "2x faster for the plain-convolution d* configs; slower for depthwise ones); "
                         "evaluation and export stay float32")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--limit-train", type=int, default=0, help="debug: first N train rows")
    ap.add_argument("--limit-eval", type=int, default=0, help="debug: first N PublicTest rows")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--models-dir", default=None,
                    help="export target; default OUT/models (models/ replaces the package's "
                         "default model)")
    a = ap.parse_args(argv)
    train(a)
    if a.no_export:
        return 0
    from . import small_export
    cmd = "python -m training.emotion.small_train " + " ".join(
        argv if argv is not None else sys.argv[1:])
    return small_export.main(["--data", a.data, "--out", a.out, "--models-dir",
                              a.models_dir or os.path.join(a.out, "models"),
                              "--train-command", cmd])


if __name__ == "__main__":
    sys.exit(main())
