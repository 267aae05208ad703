"""Greedy weight soup of emotion models fine-tuned from one trained model (Wortsman et al., 2022).

    python -m training.emotion.soup --data ../shared/datasets/fer2013.npz \
        --out training/out/emotion_d5_soup training/out/emotion_d5_long/best.pt \
        training/out/emotion_d5_ft_flip/ckpt.pt:ema training/out/emotion_d5_ft_self/ckpt.pt:ema ...

Models that start from the same weights stay in one basin, so their average is a model of the
same size (and cost) that is often better than each. Ingredients are sorted by their own
PublicTest accuracy; each is kept only if the average with it scores higher on PublicTest
(selection, as for every emotion model: PrivateTest is only reported). BatchNorm statistics of an
average are recomputed on Training faces. Writes OUT/best.pt and OUT/result.json in small_train's
format, so `small_export --out OUT` exports it.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from . import data as D
from .small_model import SmallAffectiveCNN, count_macs, n_params
from .small_train import atomic_save, predict


def load_ingredient(spec: str) -> tuple[str, dict]:
    """PATH (a best.pt) or PATH:model / PATH:ema (a ckpt.pt's raw or EMA weights)."""
    path, _, which = spec.partition(":")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if which:
        return ck["state"]["args"]["config"], ck[which]
    return ck["config"], ck["state_dict"]


def average(states: list[dict]) -> dict:
    out = {}
    for k, v in states[0].items():
        out[k] = (torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
                  if v.is_floating_point() else v.clone())
    return out


@torch.no_grad()
def recompute_bn(net: SmallAffectiveCNN, x_u8: np.ndarray, bs: int = 256) -> None:
    """Running means/variances of every BatchNorm as the plain average over x_u8 (train mode)."""
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    net.train()
    for i in range(0, len(x_u8), bs):
        x = torch.from_numpy(x_u8[i:i + bs]).unsqueeze(1).float().div_(255)
        net(x.contiguous(memory_format=torch.channels_last))
    net.eval()


def provenance(result: dict) -> dict:
    """What a soup is made of, for its card: the selection log and, for every run an ingredient
    came from, that run's schedule (from the run's own result.json)."""
    runs = {}
    for entry in result["soup"]:
        run = os.path.dirname(entry["ingredient"].partition(":")[0])
        if run not in runs:
            with open(os.path.join(run, "result.json")) as f:
                r = json.load(f)
            runs[run] = {k: r.get(k) for k in ("best", "epochs", "train_time_s", "args", "torch_fp32")}
    return {"selection": result["soup"], "ingredients": result["ingredients"],
            "bn_faces": result["args"].get("bn_faces", 8192), "command": result["args"]["soup"], "runs": runs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ingredients", nargs="+", help="PATH (best.pt) or PATH:model / PATH:ema (ckpt.pt)")
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bn-faces", type=int, default=8192, help="Training faces for the BatchNorm statistics")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    d = D.load(a.data)
    xtr, _ = D.split(d, "Training")
    xpub, ypub = D.split(d, "PublicTest")
    xpriv, ypriv = D.split(d, "PrivateTest")
    bn_x = xtr[np.random.default_rng(0).permutation(len(xtr))[:a.bn_faces]]

    loaded = [(spec, *load_ingredient(spec)) for spec in a.ingredients]
    configs = {c for _, c, _ in loaded}
    if len(configs) != 1:
        raise SystemExit(f"ingredients of different architectures: {sorted(configs)}")
    config = configs.pop()

    def build(state: dict, recalibrate: bool) -> SmallAffectiveCNN:
        net = SmallAffectiveCNN(config).to(memory_format=torch.channels_last)
        net.load_state_dict(state)
        if recalibrate:
            recompute_bn(net, bn_x)
        return net

    def public(net) -> float:
        return float((predict(net, xpub).argmax(1) == ypub).mean())

    scored = sorted(((public(build(s, False)), spec, s) for spec, _, s in loaded),
                    key=lambda t: -t[0])
    for acc, spec, _ in scored:
        print(f"{spec}: PublicTest {100 * acc:.2f} %", flush=True)
    soup = [scored[0]]
    best = scored[0][0]
    log = [{"ingredient": scored[0][1], "public": best, "kept": True}]
    for acc, spec, s in scored[1:]:
        trial = public(build(average([t[2] for t in soup] + [s]), True))
        kept = trial > best
        log.append({"ingredient": spec, "public": trial, "kept": kept})
        print(f"+ {spec}: PublicTest {100 * trial:.2f} % -> {'kept' if kept else 'left out'}", flush=True)
        if kept:
            soup.append((acc, spec, s))
            best = trial
    state = average([t[2] for t in soup])
    net = build(state, len(soup) > 1)
    os.makedirs(a.out, exist_ok=True)
    atomic_save({"config": config, "state_dict": net.state_dict(),
                 "best": {"epoch": None, "which": "soup", "public": best}},
                os.path.join(a.out, "best.pt"))
    acc = {split: {"single": round(float((predict(net, x).argmax(1) == y).mean()), 4),
                   "mirror": round(float((predict(net, x, True).argmax(1) == y).mean()), 4)}
           for split, (x, y) in (("PublicTest", (xpub, ypub)), ("PrivateTest", (xpriv, ypriv)))}
    result = {"config": config, "macs": count_macs(SmallAffectiveCNN(config)), "params": n_params(net),
              "best": {"epoch": None, "which": "soup", "public": best}, "soup": log,
              "ingredients": [t[1] for t in soup], "torch_fp32": acc, "epochs": None,
              "history": [], "train_time_s": 0.0,
              "args": {"soup": a.ingredients, "out": a.out, "config": config, "bn_faces": a.bn_faces}}
    with open(os.path.join(a.out, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("soup:", json.dumps({"ingredients": result["ingredients"], "torch_fp32": acc}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
