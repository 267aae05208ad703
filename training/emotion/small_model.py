"""The compact default emotion network (issue 13): inverted-residual CNN for 48x48x1.

    python -m training.emotion.small_model [--config NAME]   # print MACs / params per config

Structure (PyTorch; export.small rebuilds it layer by layer in Keras):

  stem      conv3x3 (stride s0) 1 -> c0 + BN + ReLU
  blocks    inverted residuals (MobileNetV2): [1x1 expand + BN + ReLU] -> depthwise 3x3
            (stride s) + BN + ReLU -> 1x1 project + BN (linear) [+ identity if shapes match]
  head      1x1 conv -> c_last + BN + ReLU, global average pool
  embedding Linear(c_last -> 256) + BN1d + ReLU   (the 256-d feature the stress model reads)
  logits    Dropout (training only) -> Linear(256 -> 7)

Stride-2 convolutions pad 1 pixel on every side (torch semantics); the Keras rebuild uses an
explicit ZeroPadding2D(1) + 'valid' so both agree exactly.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 7
EMB_DIM = 256

# name -> (stem (c, stride) or [(c, stride), ...] dense 3x3 convs, [(expand t, out c, n, first stride)...], head channels)
CONFIGS = {
    "ir_s": ((24, 1), [(1, 16, 1, 1), (4, 24, 2, 2), (4, 40, 3, 2), (4, 80, 3, 2),
                       (4, 112, 2, 1)], 384),
    "ir_m": ((24, 1), [(1, 16, 1, 1), (4, 32, 2, 2), (4, 48, 3, 2), (4, 96, 3, 2),
                       (4, 128, 2, 1)], 512),
    "ir_t": ((16, 1), [(1, 16, 1, 1), (3, 24, 2, 2), (3, 40, 2, 2), (4, 80, 3, 2),
                       (4, 96, 1, 1)], 384),
    "ir_w": ((32, 1), [(1, 24, 1, 1), (3, 32, 2, 2), (4, 64, 3, 2), (4, 128, 3, 2),
                       (4, 160, 1, 1)], 512),
}
CONFIGS.update({
    "a1": ((32, 2), [(1, 16, 1, 1), (4, 32, 3, 1), (4, 64, 3, 2), (4, 112, 3, 2),
                     (4, 160, 1, 1)], 512),
    "a2": ((24, 2), [(1, 16, 1, 1), (3, 24, 2, 1), (4, 48, 3, 2), (4, 96, 3, 2),
                     (4, 128, 1, 1)], 384),
    "a3": ([(16, 1), (32, 2)], [(1, 24, 1, 1), (4, 32, 2, 1), (4, 64, 3, 2), (4, 112, 3, 2),
                                (4, 160, 1, 1)], 512),
    "a4": ([(16, 1), (32, 2)], [(2, 32, 2, 1), (4, 64, 3, 2), (4, 128, 3, 2)], 512),
    "a5": ([(12, 1), (24, 2)], [(1, 24, 1, 1), (3, 32, 2, 1), (4, 64, 3, 2), (4, 96, 3, 2),
                                (4, 128, 1, 1)], 384),
    "b1": ([(16, 1), (24, 2)], [(3, 24, 1, 1), (3, 40, 2, 2), (4, 72, 3, 2)], 384),
    "b2": ([(16, 1), (24, 2)], [(3, 24, 1, 1), (3, 40, 2, 2), (4, 80, 4, 2)], 512),
    "b3": ([(16, 1), (24, 2)], [(3, 24, 2, 1), (3, 48, 2, 2), (4, 80, 3, 2)], 384),
    "b4": ([(16, 1), (32, 2)], [(2, 32, 1, 1), (3, 48, 2, 2), (4, 96, 3, 2)], 384),
})
# Plain 3x3 convolutions (no inverted residuals): without VNNI, XNNPACK's int8 depthwise kernels
# cost ~9x more per multiply-accumulate than its dense ones (tools/latency_sweep.py, quiet
# estimates with CPUID masked to AVX2: b4 19.4 M MACs 1.13 ms; d3 16.1 M 0.64 ms; d5 18.9 M
# 0.73 ms; d4 21.3 M 0.83 ms), and oneDNN trains them in bf16 (AMX) about 2x faster per step
# than b4 in float32 (bf16 slows the depthwise ones).
CONFIGS.update({
    "d3": ([(16, 2), (32, 1), (48, 2), (48, 1), (96, 2), (96, 1), (96, 1)], [], 256),
    "d4": ([(24, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1)], [], 256),
    "d5": ([(16, 2), (32, 1), (48, 2), (64, 1), (96, 2), (96, 1), (128, 1)], [], 256),
    # d5 about 1.2x wider from the third conv on (23.0 M MACs): the trained d5 ran in 0.52 ms
    # with AVX2 kernels, under the sweep's 0.73 ms estimate, which leaves room for more capacity
    "d6": ([(16, 2), (32, 1), (56, 2), (72, 1), (104, 2), (112, 1), (144, 1)], [], 256),
})
DEFAULT_CONFIG = "b4"


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k=1, stride=1, groups=1, relu=True):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, t, stride):
        super().__init__()
        hid = cin * t
        self.t, self.stride, self.cin, self.cout = t, stride, cin, cout
        self.expand = ConvBN(cin, hid, 1) if t != 1 else None
        self.dw = ConvBN(hid, hid, 3, stride, groups=hid)
        self.project = ConvBN(hid, cout, 1, relu=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.dw(y))
        return x + y if self.residual else y


class SmallAffectiveCNN(nn.Module):
    """(B,1,48,48) in [0,1] -> (logits (B,7), embedding (B,256), post-ReLU)."""

    def __init__(self, config: str = DEFAULT_CONFIG, dropout: float = 0.2):
        super().__init__()
        self.config = config
        stem, blocks, c_last = CONFIGS[config]
        stem = [stem] if isinstance(stem[0], int) else list(stem)
        st, cin = [], 1
        for c0, s0 in stem:
            st.append(ConvBN(cin, c0, 3, s0))
            cin = c0
        self.stem = st[0] if len(st) == 1 else nn.Sequential(*st)
        layers = []
        for t, c, n, s in blocks:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, t, s if i == 0 else 1))
                cin = c
        self.blocks = nn.Sequential(*layers)
        self.head = ConvBN(cin, c_last, 1)
        self.embed = nn.Linear(c_last, EMB_DIM, bias=False)
        self.embed_bn = nn.BatchNorm1d(EMB_DIM)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(EMB_DIM, NUM_CLASSES)

    def forward(self, x):
        f = self.head(self.blocks(self.stem(x))).mean(dim=(2, 3))
        e = F.relu(self.embed_bn(self.embed(f)))
        return self.fc(self.drop(e)), e


def count_macs(model: nn.Module, hw=(48, 48)) -> int:
    """Multiply-accumulates of one forward pass of one image (convolutions + linear layers;
    BN folds into the convolutions, ReLU/add/pool are not MACs)."""
    macs = [0]

    def conv_hook(m, i, o):
        macs[0] += o.numel() // o.shape[0] * (m.in_channels // m.groups) * \
            m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, i, o):
        macs[0] += m.in_features * m.out_features

    hs = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hs.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hs.append(m.register_forward_hook(lin_hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, *hw))
    model.train(was)
    for h in hs:
        h.remove()
    return macs[0]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description="MACs / params of the small emotion configs")
    ap.add_argument("--config", default=None)
    a = ap.parse_args()
    for name in ([a.config] if a.config else CONFIGS):
        m = SmallAffectiveCNN(name)
        print(f"{name}: {count_macs(m) / 1e6:.2f} M MACs, {n_params(m):,} params")


if __name__ == "__main__":
    main()
