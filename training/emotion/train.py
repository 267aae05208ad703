r"""One resumable training command: teachers -> ensemble distillation -> compact student.

    python -m training.emotion.train --data ../shared/datasets/fer2013.npz \
        --out training/out/emotion --device cuda --jobs 5

Stage 1 trains the teacher networks (and any student with alpha=0, i.e. without
distillation); stage 2 trains the distilled students, whose soft targets are the averaged
softmax of the teacher ensemble on the very same augmented batch (online distillation).
Every member checkpoints after every epoch to OUT/<teachers|students>/<tag>/ckpt.pt; rerunning
the same command skips finished members and resumes unfinished ones from their last epoch.
Model selection uses PublicTest only (best epoch of raw or EMA weights); PrivateTest is logged
for information and reported by export.py.

Finally the student with the best PublicTest accuracy is written to OUT/student_best.pt
(state dict + architecture + reference outputs used by export.py to verify the Keras copy),
and, when TensorFlow is importable (training/requirements.txt), export.py runs in the same
command: .tflite INT8 + FP32 reference + metrics JSON + latency.

Member specs: teachers "arch:seed[:epochs]"; students "alpha:T:seed[:on|off[:epochs]]"
(alpha = weight of the distillation loss, T = temperature, on = online distillation from
the teacher ensemble on the same augmented batch, off = from stored teacher logits).

Runs on CUDA (bf16 autocast, channels_last) or CPU (float32). Members of a stage may run in
parallel processes (--jobs) to share one GPU.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from .augment import augment, mix
from .models import build, n_params

# the configuration of the delivered model (see models/affective_cnn_int8.md)
DEFAULT_TEACHERS = "vgg:0:95,vgg:1:95"
DEFAULT_STUDENTS = "0:1:0:on:150,0.9:4:0:on:80,0.8:3:1:on:80"


# ----------------------------------------------------------------------------- helpers
def parse_teachers(s: str):
    out = []
    for item in filter(None, s.split(",")):
        parts = item.split(":")
        arch, seed = parts[0], parts[1]
        ep = int(parts[2]) if len(parts) > 2 else None
        out.append({"role": "teacher", "arch": arch, "seed": int(seed),
                    "tag": f"{arch}_s{seed}", "epochs": ep})
    return out


def parse_students(s: str):
    out = []
    for item in filter(None, s.split(",")):
        parts = item.split(":")
        a, t, seed = float(parts[0]), float(parts[1]), parts[2]
        offline = len(parts) > 3 and parts[3] == "off"
        ep = int(parts[4]) if len(parts) > 4 else None
        tag = f"ce_s{seed}" if a == 0 else f"kd_a{a:g}_T{t:g}_s{seed}" + ("_off" * offline)
        out.append({"role": "student", "arch": "student", "alpha": a, "T": t,
                    "seed": int(seed), "tag": tag, "offline": offline, "epochs": ep})
    return out


def member_dir(out: str, m: dict) -> str:
    return os.path.join(out, "teachers" if m["role"] == "teacher" else "students", m["tag"])


def atomic_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def load_splits(path: str, limit_train: int = 0, limit_eval: int = 0):
    d = D.load(path)
    out = {}
    for name in D.SPLITS:
        x, y = D.split(d, name)
        lim = limit_train if name == "Training" else limit_eval
        if lim:
            x, y = x[:lim], y[:lim]
        out[name] = (x, y)
    return out, d


@torch.no_grad()
def predict(model, x_u8: torch.Tensor, device, bs=1024, tta=False, amp=True):
    """Logits (float32, numpy) of uint8 images (N,48,48) already on `device`."""
    model.eval()
    outs = []
    for i in range(0, len(x_u8), bs):
        x = x_u8[i:i + bs].unsqueeze(1).float().div_(255)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=(amp and device.type == "cuda")):
            lo = model(x)[0].float()
            if tta:
                lo = (lo.softmax(1) + model(torch.flip(x, dims=[3]))[0].float().softmax(1)) / 2
                lo = lo.clamp_min(1e-8).log()
        outs.append(lo)
    return torch.cat(outs).cpu().numpy()


def acc(logits: np.ndarray, y: np.ndarray) -> float:
    return float((logits.argmax(1) == y).mean())


# ----------------------------------------------------------------------------- one member
def train_member(m: dict, a) -> int:
    """Train one teacher/student. Returns 0 when finished, 3 when stopped by the deadline."""
    t_start = time.time()
    deadline = t_start + a.budget_s if a.budget_s > 0 else float("inf")
    device = pick_device(a.device)
    mdir = member_dir(a.out, m)
    os.makedirs(mdir, exist_ok=True)
    if os.path.exists(os.path.join(mdir, "result.json")):
        print(f"[{m['tag']}] already finished", flush=True)
        return 0
    torch.manual_seed(m["seed"])
    np.random.seed(m["seed"])
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        torch.set_num_threads(max(1, os.cpu_count() or 1))

    splits, _ = load_splits(a.data_local, a.limit_train, a.limit_eval)
    xtr = torch.from_numpy(splits["Training"][0]).to(device)
    ytr = torch.from_numpy(splits["Training"][1]).to(device)
    xpub = torch.from_numpy(splits["PublicTest"][0]).to(device)
    ypub = splits["PublicTest"][1]
    xpriv = torch.from_numpy(splits["PrivateTest"][0]).to(device)
    ypriv = splits["PrivateTest"][1]

    model = build(m["arch"]).to(device).to(memory_format=torch.channels_last)
    ema = build(m["arch"]).to(device).to(memory_format=torch.channels_last)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)

    is_teacher = m["role"] == "teacher"
    bs = a.batch
    steps_per_epoch = len(xtr) // bs
    max_epochs = m.get("epochs") or (a.teacher_epochs if is_teacher else a.student_epochs)
    lr = a.lr * bs / 256
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": a.wd},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=lr, momentum=0.9, nesterov=True)

    teachers = []
    pt_all = None
    if not is_teacher and m["alpha"] > 0 and m.get("offline"):
        # offline distillation: ensemble of the teachers' stored flip-TTA logits of the
        # un-augmented training images (mixed along with the labels under mixup/cutmix)
        _, d = load_splits(a.data_local)
        tr_rows = np.flatnonzero(d["usage"] == D.SPLITS["Training"])[:len(xtr)]
        probs = []
        for tm in parse_teachers(a.teachers):
            lo = np.load(os.path.join(member_dir(a.out, tm), "logits_tta.npy"))
            lo = torch.from_numpy(lo[tr_rows].astype(np.float32))
            probs.append((lo / m["T"]).softmax(1))
        pt_all = torch.stack(probs).mean(0).to(device)
        print(f"[{m['tag']}] offline distillation from {len(probs)} teachers", flush=True)
    elif not is_teacher and m["alpha"] > 0:
        for tm in parse_teachers(a.teachers):
            sd = torch.load(os.path.join(member_dir(a.out, tm), "final.pt"),
                            map_location=device, weights_only=True)
            tnet = build(tm["arch"]).to(device).to(memory_format=torch.channels_last)
            tnet.load_state_dict({k: v.float() for k, v in sd["state_dict"].items()})
            tnet.eval()
            teachers.append(tnet)
        print(f"[{m['tag']}] distilling from {len(teachers)} teachers", flush=True)

    state = {"epoch": 0, "total_epochs": None, "best": None, "history": []}
    ckpt_path = os.path.join(mdir, "ckpt.pt")
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        torch.set_rng_state(ck["rng_cpu"])
        if device.type == "cuda" and ck.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(ck["rng_cuda"])
        print(f"[{m['tag']}] resumed at epoch {state['epoch']}", flush=True)
    if a.fixed_epochs or a.budget_s <= 0 or m.get("epochs"):
        state["total_epochs"] = state["total_epochs"] or max_epochs

    print(f"[{m['tag']}] {m['arch']} params={n_params(model)} device={device} "
          f"steps/epoch={steps_per_epoch}", flush=True)
    amp = device.type == "cuda"
    warm_epochs = min(2, max_epochs)
    ema_decay = a.ema_decay
    smooth = a.label_smoothing
    eye = torch.eye(7, device=device)
    ep_times = []

    def lr_at(step_f: float, total_epochs):
        tot = (total_epochs or max_epochs) * steps_per_epoch
        w = warm_epochs * steps_per_epoch
        if step_f < w:
            return lr * (step_f + 1) / w
        return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step_f - w) / max(1, tot - w))))

    best_sd_path = os.path.join(mdir, "best_state.pt")
    while state["total_epochs"] is None or state["epoch"] < state["total_epochs"]:
        ep = state["epoch"]
        # stop (and resume later) if the next epoch cannot finish before the deadline
        if ep_times and time.time() + 1.15 * np.median(ep_times[-3:]) > deadline:
            # budget exhausted: keep the best weights so far and finish (recorded)
            print(f"[{m['tag']}] deadline: truncated after epoch {ep}", flush=True)
            state["truncated_at"] = ep
            break
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), device=device)
        loss_sum = torch.zeros((), device=device)
        for it in range(steps_per_epoch):
            for gparam in opt.param_groups:
                gparam["lr"] = lr_at(ep * steps_per_epoch + it, state["total_epochs"])
            idx = perm[it * bs:(it + 1) * bs]
            x = xtr[idx].unsqueeze(1).float().div_(255)
            y = ytr[idx]
            x = augment(x, erase_p=a.erase_p)
            yt = eye[y] * (1 - smooth) + smooth / 7
            if pt_all is not None:
                yt = torch.cat([yt, pt_all[idx]], 1)
            x, yt, _, _ = mix(x, yt, p=a.mix_p)
            pt = None
            if pt_all is not None:
                yt, pt = yt[:, :7], yt[:, 7:]
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(x)[0].float()
                loss = -(yt * F.log_softmax(logits, 1)).sum(1).mean()
                if teachers or pt is not None:
                    T = m["T"]
                    if teachers:
                        with torch.no_grad():
                            pt = torch.stack([t(x)[0].float().div(T).softmax(1)
                                              for t in teachers]).mean(0)
                    kd = F.kl_div(F.log_softmax(logits / T, 1), pt,
                                  reduction="batchmean") * T * T
                    loss = m["alpha"] * kd + (1 - m["alpha"]) * loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                ep_ = list(ema.parameters())
                mp_ = list(model.parameters())
                torch._foreach_mul_(ep_, ema_decay)
                torch._foreach_add_(ep_, mp_, alpha=1 - ema_decay)
                for be, bm in zip(ema.buffers(), model.buffers()):
                    be.copy_(bm)
            loss_sum += loss.detach()
        if device.type == "cuda":
            torch.cuda.synchronize()
        # evaluation (selection on PublicTest only)
        res = {}
        for name, net in (("raw", model), ("ema", ema)):
            res[name] = {"public": acc(predict(net, xpub, device, tta=is_teacher), ypub),
                         "private": acc(predict(net, xpriv, device, tta=is_teacher), ypriv)}
        ep_time = time.time() - t0
        ep_times.append(ep_time)
        if state["total_epochs"] is None and ep + 1 >= warm_epochs:
            # fit the schedule into the budget from the speed of the last warm-up epoch
            # (the first epoch carries start-up and cuDNN auto-tuning)
            per_ep = ep_time
            left = deadline - time.time() - a.reserve_s
            state["total_epochs"] = int(max(ep + 2, min(max_epochs,
                                                        ep + 1 + left // (per_ep * 1.05))))
            print(f"[{m['tag']}] epoch time ~{per_ep:.2f}s -> total_epochs="
                  f"{state['total_epochs']}", flush=True)
        state["epoch"] = ep + 1
        which = max(res, key=lambda k: res[k]["public"])
        rec = {"epoch": ep + 1, "loss": float(loss_sum) / steps_per_epoch,
               "lr": opt.param_groups[0]["lr"], "time_s": round(ep_time, 2), **{
                   f"{k}_{s}": round(v[s], 4) for k, v in res.items() for s in v}}
        state["history"].append(rec)
        print(f"[{m['tag']}] " + json.dumps(rec), flush=True)
        if state["best"] is None or res[which]["public"] > state["best"]["public"]:
            state["best"] = {"epoch": ep + 1, "which": which, **res[which]}
            net = model if which == "raw" else ema
            atomic_save({k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
                        best_sd_path)
        atomic_save({"model": model.state_dict(), "ema": ema.state_dict(),
                     "opt": opt.state_dict(), "state": state,
                     "rng_cpu": torch.get_rng_state(),
                     "rng_cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None},
                    ckpt_path)

    # finished: keep the PublicTest-selected weights
    sd = torch.load(best_sd_path, map_location="cpu", weights_only=True)
    net = build(m["arch"])
    net.load_state_dict(sd)
    net = net.to(device).to(memory_format=torch.channels_last)
    final = {"arch": m["arch"], "member": m,
             "state_dict": {k: (v.half() if is_teacher and v.is_floating_point() else v)
                            for k, v in sd.items()}}
    atomic_save(final, os.path.join(mdir, "final.pt"))
    if is_teacher:
        # flip-TTA logits on every row (file order) for offline use / ensemble accuracy
        _, d = load_splits(a.data_local)
        allpix = d["pixels"][:a.limit_train] if a.limit_train else d["pixels"]
        allx = torch.from_numpy(allpix).to(device)
        lo = predict(net, allx, device, tta=True)
        np.save(os.path.join(mdir, "logits_tta.npy"), lo.astype(np.float16))
    result = {"member": m, "params": n_params(net), "best": state["best"],
              "epochs": state["total_epochs"], "truncated_at": state.get("truncated_at"),
              "history": state["history"],
              "train_time_s": round(sum(h["time_s"] for h in state["history"]), 1)}
    with open(os.path.join(mdir, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    if not a.keep_ckpt:
        os.remove(ckpt_path)
    print(f"[{m['tag']}] done: best {state['best']}", flush=True)
    return 0


# ----------------------------------------------------------------------------- launcher
def run_stage(members, a, budget_s) -> bool:
    """Run members as parallel subprocesses (at most a.jobs at once). True if all finished."""
    pending = [m for m in members
               if not os.path.exists(os.path.join(member_dir(a.out, m), "result.json"))]
    if not pending:
        return True
    procs = []
    ok = True
    base = [sys.executable, "-m", "training.emotion.train"] + a.passthrough
    while pending or procs:
        while pending and len(procs) < a.jobs:
            m = pending.pop(0)
            spec = json.dumps(m)
            cmd = base + ["--member", spec, "--budget-s", str(budget_s)]
            procs.append((m, subprocess.Popen(cmd)))
        time.sleep(1)
        for m, p in list(procs):
            rc = p.poll()
            if rc is not None:
                procs.remove((m, p))
                if rc != 0:
                    ok = False
                    print(f"[launcher] {m['tag']} exited {rc}", flush=True)
    return ok


def ensemble_report(a, teachers) -> dict:
    d = D.load(a.data_local)
    los = []
    for tm in teachers:
        f = os.path.join(member_dir(a.out, tm), "logits_tta.npy")
        if os.path.exists(f):
            los.append(np.load(f).astype(np.float32))
    if not los:
        return {}
    p = np.mean([np.exp(lo - lo.max(1, keepdims=True)) /
                 np.exp(lo - lo.max(1, keepdims=True)).sum(1, keepdims=True) for lo in los], 0)
    out = {"n_teachers": len(los)}
    n = len(p)
    for name, u in D.SPLITS.items():
        msk = d["usage"][:n] == u
        if msk.any():
            out[f"ensemble_{name}_acc"] = float((p[msk].argmax(1) == d["label"][:n][msk]).mean())
    return out


def finalize(a, students) -> dict:
    """Pick the finished student with the best PublicTest accuracy of the deployed inference
    (float32, mean of the softmax of the face and its mirror image)."""
    splits, _ = load_splits(a.data_local)
    xpub = torch.from_numpy(splits["PublicTest"][0]).unsqueeze(1).float() / 255
    ypub = splits["PublicTest"][1]
    best, table = None, {}
    for sm in students:
        f = os.path.join(member_dir(a.out, sm), "result.json")
        if not os.path.exists(f):
            continue
        r = json.load(open(f))
        final = torch.load(os.path.join(member_dir(a.out, sm), "final.pt"), map_location="cpu",
                           weights_only=False)
        net = build("student")
        net.load_state_dict(final["state_dict"])
        net.eval()
        with torch.no_grad():
            p = net(xpub)[0].softmax(1)
            pf = net(torch.flip(xpub, dims=[3]))[0].softmax(1)
        pub = float((p.argmax(1).numpy() == ypub).mean())
        pub_flip = float(((p + pf).argmax(1).numpy() == ypub).mean())
        table[sm["tag"]] = {"public_acc": pub, "public_acc_flip_tta": pub_flip}
        if best is None or pub_flip > best[2]:
            best = (sm, r, pub_flip, final)
    if best is None:
        return {}
    sm, r, _, final = best
    xs = splits["PrivateTest"][0][:256]
    net = build("student")
    net.load_state_dict(final["state_dict"])
    net.eval()
    with torch.no_grad():
        lo, emb = net(torch.from_numpy(xs).unsqueeze(1).float() / 255)
    out = {"arch": "student", "widths": list(net.widths), "depths": list(net.depths),
           "emb_dim": net.emb_dim, "member": sm, "result": r,
           "state_dict": final["state_dict"],
           "ref": {"private_index": np.arange(256), "logits": lo.numpy(),
                   "embedding": emb.numpy()}}
    atomic_save(out, os.path.join(a.out, "student_best.pt"))
    return {"student": sm["tag"], "student_selection_public": table}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA,
                    help="fer2013.npz (or a .ferpack made by training.emotion.data)")
    ap.add_argument("--out", default="training/out/emotion")
    ap.add_argument("--device", default="auto", help="cuda | cpu | auto")
    ap.add_argument("--teachers", default=DEFAULT_TEACHERS, help="arch:seed,...")
    ap.add_argument("--students", default=DEFAULT_STUDENTS,
                    help="alpha:T:seed,... (alpha=0: plain cross-entropy, no teachers)")
    ap.add_argument("--teacher-epochs", type=int, default=60)
    ap.add_argument("--student-epochs", type=int, default=100)
    ap.add_argument("--teacher-budget-s", type=float, default=0,
                    help="if >0, fit each teacher's epoch count into this many seconds")
    ap.add_argument("--student-budget-s", type=float, default=0)
    ap.add_argument("--fixed-epochs", action="store_true",
                    help="use exactly --*-epochs (budget only stops early for resume)")
    ap.add_argument("--jobs", type=int, default=1, help="members trained in parallel")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.1, help="SGD lr per 256 images")
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--mix-p", type=float, default=0.5, help="mixup/cutmix probability")
    ap.add_argument("--erase-p", type=float, default=0.5)
    ap.add_argument("--ema-decay", type=float, default=0.998)
    ap.add_argument("--reserve-s", type=float, default=15)
    ap.add_argument("--limit-train", type=int, default=0, help="debug: first N train rows")
    ap.add_argument("--limit-eval", type=int, default=0, help="debug: first N eval rows")
    ap.add_argument("--keep-ckpt", action="store_true")
    ap.add_argument("--no-export", action="store_true",
                    help="stop after training (export needs TensorFlow)")
    ap.add_argument("--models-dir", default="models", help="where export writes")
    ap.add_argument("--member", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--budget-s", type=float, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.data_local = a.data
    if a.member:
        return train_member(json.loads(a.member), a)

    # pass every option except the launcher-only ones to the member processes
    raw = list(argv if argv is not None else sys.argv[1:])
    a.passthrough = raw
    os.makedirs(a.out, exist_ok=True)
    teachers = parse_teachers(a.teachers)
    students = parse_students(a.students)
    t0 = time.time()
    sfile = os.path.join(a.out, "summary.json")
    prev = json.load(open(sfile)) if os.path.exists(sfile) else {}
    plain = [s for s in students if s["alpha"] == 0]
    kd = [s for s in students if s["alpha"] > 0]
    todo1 = [m for m in teachers + plain
             if not os.path.exists(os.path.join(member_dir(a.out, m), "result.json"))]
    ok1 = run_stage(teachers + plain, a, a.teacher_budget_s)
    summary = {"stage1_ok": ok1,
               "stage1_s": round(time.time() - t0, 1) if todo1 else prev.get("stage1_s")}
    summary.update(ensemble_report(a, teachers))
    print("[launcher] " + json.dumps(summary), flush=True)
    teachers_done = all(os.path.exists(os.path.join(member_dir(a.out, t), "result.json"))
                        for t in teachers)
    ok2 = True
    if kd and teachers_done:
        t1 = time.time()
        todo2 = [m for m in kd
                 if not os.path.exists(os.path.join(member_dir(a.out, m), "result.json"))]
        ok2 = run_stage(kd, a, a.student_budget_s)
        summary["stage2_s"] = round(time.time() - t1, 1) if todo2 else prev.get("stage2_s")
    elif kd:
        ok2 = False
        print("[launcher] teachers unfinished: rerun the same command to resume", flush=True)
    summary.update(finalize(a, students))
    summary["complete"] = bool(ok1 and ok2)
    with open(sfile, "w") as f:
        json.dump(summary, f, indent=1)
    print("[launcher] " + json.dumps(summary), flush=True)
    if not summary["complete"]:
        return 3
    if not a.no_export:
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            print("[launcher] TensorFlow not installed: run training.emotion.export next",
                  flush=True)
            return 0
        from . import export
        return export.main(["--data", a.data, "--out", a.out, "--models-dir", a.models_dir,
                            "--train-command", "python -m training.emotion.train " +
                            " ".join(raw)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
