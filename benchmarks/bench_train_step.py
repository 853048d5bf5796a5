"""Training step rate of a model on the CPU, contiguous against channels-last tensors.

One forward + backward + AdamW step of ResUNet (``--base-channels``) on a random
``--batch`` x 3 x ``--crop``² batch, timed after three warm-up steps, both memory
formats in one run (the ratio is what to read on a shared machine).

Usage:
    python benchmarks/bench_train_step.py [--threads 2] [--steps 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from roadseg.models import build
from roadseg.training.loss import bce_dice_loss


def steps_per_second(channels_last: bool, args: argparse.Namespace) -> float:
    torch.manual_seed(0)
    model = build("resunet", in_channels=3, num_classes=1, base_channels=args.base_channels)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    x = torch.rand(args.batch, 3, args.crop, args.crop)
    y = (torch.rand(args.batch, 1, args.crop, args.crop) > 0.9).float()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    for i in range(3 + args.steps):
        if i == 3:
            start = time.perf_counter()
        loss = bce_dice_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return args.steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--base-channels", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    contiguous = steps_per_second(False, args)
    last = steps_per_second(True, args)
    print(
        f"contiguous {contiguous:.3f} steps/s, channels-last {last:.3f} steps/s, ratio {last / contiguous:.2f}"
    )


if __name__ == "__main__":
    main()
