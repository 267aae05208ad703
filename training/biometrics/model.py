"""The network: a plain VGG-style CNN with two heads (age bins, gender), mirrored by export.py.

Input (B, 3, 64, 64) BGR in [0, 1]. Stages of conv3x3 'same' + BN + ReLU, 2x2 max-pool between
stages (no strided convolutions, so Keras 'same' padding gives the identical network), global
average pool, Dense(EMB)+ReLU, then
  * age: AGE_BINS logits; softmax -> a distribution over the bin centres (0, 4, ..., 100 years),
    whose mean is the age estimate and whose standard deviation is its spread;
  * gender: 1 logit; sigmoid -> probability of the annotated label "female".
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

AGE_CENTRES = np.arange(0, 101, 4, dtype=np.float32)  # years
AGE_BINS = len(AGE_CENTRES)
WIDTHS = (16, 32, 64, 128, 256)
DEPTHS = (1, 2, 2, 2, 1)
EMB = 128


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SoftBiometricsCNN(nn.Module):
    def __init__(self, widths=WIDTHS, depths=DEPTHS, emb=EMB, dropout=0.2):
        super().__init__()
        self.widths, self.depths, self.emb = tuple(widths), tuple(depths), emb
        layers: list[nn.Module] = []
        cin = 3
        for si, (w, d) in enumerate(zip(widths, depths)):
            for _ in range(d):
                layers += conv_bn_relu(cin, w)
                cin = w
            if si < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.embed = nn.Linear(cin, emb)
        self.drop = nn.Dropout(dropout)
        self.age = nn.Linear(emb, AGE_BINS)
        self.gender = nn.Linear(emb, 1)

    def forward(self, x):
        f = self.features(x).mean(dim=(2, 3))
        e = self.drop(F.relu(self.embed(f)))
        return self.age(e), self.gender(e)[:, 0]


def age_stats(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, AGE_BINS) probabilities -> (mean age, standard deviation), years."""
    p = np.clip(probs, 0, None)
    p = p / np.maximum(p.sum(-1, keepdims=True), 1e-12)
    mean = p @ AGE_CENTRES
    sd = np.sqrt(np.maximum(p @ AGE_CENTRES ** 2 - mean ** 2, 0))
    return mean, sd


def age_targets(age: torch.Tensor, sigma: float = 3.0) -> torch.Tensor:
    """Soft labels: a Gaussian (sigma years, at least one bin wide) around the age, over the bins."""
    c = torch.as_tensor(AGE_CENTRES, device=age.device)
    a = age.float().clamp(0, float(AGE_CENTRES[-1]))[:, None]
    s = torch.clamp(0.08 * a, min=sigma)
    w = torch.exp(-0.5 * ((c[None] - a) / s) ** 2)
    return w / w.sum(1, keepdim=True)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def macs(widths=WIDTHS, depths=DEPTHS, size=64) -> int:
    total, cin, s = 0, 3, size
    for si, (w, d) in enumerate(zip(widths, depths)):
        for _ in range(d):
            total += s * s * cin * w * 9
            cin = w
        if si < len(widths) - 1:
            s //= 2
    return total
