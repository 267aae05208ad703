"""PyTorch networks.

AffectiveCNN is the deployed student; its structure is mirrored exactly by
export.build_keras_student (conv3x3 'same' + BN + ReLU blocks, 2x2 max-pool between stages,
global average pool, Dense(256)+ReLU embedding, Dense(7) logits, softmax at export).
The teachers (VGG-style and ResNet-style) are only used to distil the student.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 7


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class AffectiveCNN(nn.Module):
    """VGG-style CNN: input (B,1,48,48) in [0,1] -> (logits (B,7), embedding (B,emb))."""

    def __init__(self, widths=(32, 64, 128, 256), depths=(2, 2, 3, 2), emb_dim=256,
                 dropout=0.3):
        super().__init__()
        self.widths, self.depths, self.emb_dim = tuple(widths), tuple(depths), emb_dim
        layers: list[nn.Module] = []
        cin = 1
        for si, (w, d) in enumerate(zip(widths, depths)):
            for _ in range(d):
                layers += conv_bn_relu(cin, w)
                cin = w
            if si < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.embed = nn.Linear(cin, emb_dim)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(emb_dim, NUM_CLASSES)

    def forward(self, x):
        f = self.features(x)
        f = f.mean(dim=(2, 3))
        e = F.relu(self.embed(f))
        return self.head(self.drop(e)), e


class VGGTeacher(AffectiveCNN):
    def __init__(self, widths=(64, 128, 256, 512), depths=(2, 2, 3, 3), emb_dim=512,
                 dropout=0.5):
        super().__init__(widths, depths, emb_dim, dropout)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                    nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)), inplace=True)
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.sc is None else self.sc(x)), inplace=True)


class ResNetTeacher(nn.Module):
    """ResNet-18 layout for 48x48 input (3x3 stem, no stem pooling): 48-48-24-12-6."""

    def __init__(self, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2), dropout=0.3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers = []
        cin = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for k in range(n):
                layers.append(BasicBlock(cin, w, 2 if (k == 0 and i > 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(cin, NUM_CLASSES)

    def forward(self, x):
        f = self.layers(self.stem(x)).mean(dim=(2, 3))
        return self.head(self.drop(f)), f


def build(arch: str) -> nn.Module:
    if arch == "student":
        return AffectiveCNN()
    if arch == "vgg":
        return VGGTeacher()
    if arch == "vggw":
        return VGGTeacher(widths=(96, 192, 384, 512), depths=(2, 2, 3, 3))
    if arch == "resnet18":
        return ResNetTeacher()
    raise ValueError(f"unknown arch {arch}")


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    for a in ("student", "vgg", "vggw", "resnet18"):
        print(a, n_params(build(a)))
