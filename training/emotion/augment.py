"""Batched data augmentation in torch (runs on the training device, GPU or CPU)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, g: torch.Generator | None = None, rot_deg=15.0, scale=0.15,
            shift=0.10, erase_p=0.5, photometric=0.25, sharp_p=0.0) -> torch.Tensor:
    """x: float (B,1,H,W) in [0,1]. Random flip, rotation, scale, shift (one affine warp,
    bilinear, border padding), brightness/contrast jitter and random erasing.

    sharp_p: the share of faces whose warp is only a flip and a whole-pixel shift, so that
    they keep their pixels. A bilinear warp at sub-pixel positions smooths every face it
    resamples, while a test face is never resampled."""
    b, _, h, w = x.shape
    dev = x.device

    def u(lo, hi, n=b):
        return torch.rand(n, device=dev, generator=g) * (hi - lo) + lo

    ang = u(-rot_deg, rot_deg) * math.pi / 180
    sc = u(1 - scale, 1 + scale)
    flip = torch.where(torch.rand(b, device=dev, generator=g) < 0.5, -1.0, 1.0)
    tx, ty = u(-2 * shift, 2 * shift), u(-2 * shift, 2 * shift)
    if sharp_p > 0:  # drawn only when asked, so that runs without it keep their random stream
        sharp = torch.rand(b, device=dev, generator=g) < sharp_p
        ang = torch.where(sharp, 0.0, ang)
        sc = torch.where(sharp, 1.0, sc)
        # with align_corners=False one pixel is 2/w of the normalised width
        tx = torch.where(sharp, torch.round(tx * w / 2) * 2 / w, tx)
        ty = torch.where(sharp, torch.round(ty * h / 2) * 2 / h, ty)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1),
                         torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if photometric > 0:
        c = u(1 - photometric, 1 + photometric).view(b, 1, 1, 1)
        br = u(-photometric / 2, photometric / 2).view(b, 1, 1, 1)
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - m) * c + m + br).clamp(0, 1)
    if erase_p > 0:
        area = u(0.02, 0.25) * h * w
        logr = u(math.log(0.3), math.log(3.3))
        eh = torch.sqrt(area * torch.exp(logr)).clamp(1, h)
        ew = torch.sqrt(area / torch.exp(logr)).clamp(1, w)
        y0 = u(0, 1) * (h - eh)
        x0 = u(0, 1) * (w - ew)
        yy = torch.arange(h, device=dev).view(1, h, 1)
        xx = torch.arange(w, device=dev).view(1, 1, w)
        box = ((yy >= y0.view(b, 1, 1)) & (yy < (y0 + eh).view(b, 1, 1)) &
               (xx >= x0.view(b, 1, 1)) & (xx < (x0 + ew).view(b, 1, 1)))
        on = (torch.rand(b, device=dev, generator=g) < erase_p).view(b, 1, 1)
        mask = (box & on).unsqueeze(1)
        noise = torch.rand(x.shape, device=dev, generator=g)
        x = torch.where(mask, noise, x)
    return x


def mix(x: torch.Tensor, y: torch.Tensor, g: torch.Generator | None = None, p=0.5,
        alpha=1.0):
    """With probability p, mixup (half the time) or cutmix (half) the batch.
    y: (B,C) soft targets. Returns x, y, perm, lam (lam=1 when no mixing)."""
    b, _, h, w = x.shape
    dev = x.device
    r = torch.rand(2, generator=g, device=dev).tolist()
    if r[0] >= p:
        return x, y, None, 1.0
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(b, device=dev, generator=g)
    if r[1] < 0.5:
        x = lam * x + (1 - lam) * x[perm]
    else:
        ch, cw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = int(torch.randint(h, (1,)).item()), int(torch.randint(w, (1,)).item())
        y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
        x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = x[perm][:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    y = lam * y + (1 - lam) * y[perm]
    return x, y, perm, lam
