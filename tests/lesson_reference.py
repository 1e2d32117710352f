"""An independent re-statement of the schedules lesson's program (the seed
``002_f726f09065ab3ed0``): its five schedule functions, its circle data, its training
function and its two tables, written from the lesson's text for the tests to compare
``circle-lesson`` with. Deliberately plain and separate from ``lrlab``."""

from __future__ import annotations

import math
import random


def constant_lr(step, lr=0.01, **_):
    return lr


def step_decay_lr(step, lr=0.1, step_size=100, gamma=0.1, **_):
    return lr * (gamma ** (step // step_size))


def cosine_lr(step, lr=0.01, total_steps=1000, lr_min=1e-5, **_):
    if step >= total_steps:
        return lr_min
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * step / total_steps))


def warmup_cosine_lr(step, lr=0.01, total_steps=1000, warmup_steps=100, lr_min=1e-5, **_):
    if total_steps <= warmup_steps:
        return lr * (step / max(warmup_steps, 1))
    if step < warmup_steps:
        return lr * step / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * progress))


def one_cycle_lr(step, lr=0.01, total_steps=1000, **_):
    mid = max(total_steps // 2, 1)
    if step < mid:
        return (lr / 25) + (lr - lr / 25) * step / mid
    progress = (step - mid) / max(total_steps - mid, 1)
    return lr * (1 - progress) + (lr / 10000) * progress


LESSON_CONFIGS = [
    ("constant", constant_lr, {}),
    ("step", step_decay_lr, {"step_size": 15000, "gamma": 0.1}),
    ("cosine", cosine_lr, {"lr_min": 1e-5}),
    ("warmup_cosine", warmup_cosine_lr, {"warmup_steps": 3000, "lr_min": 1e-5}),
    ("onecycle", one_cycle_lr, {}),
]


def circle_points(n=200, seed=42):
    random.seed(seed)
    points = []
    for _ in range(n):
        a = random.uniform(-2, 2)
        b = random.uniform(-2, 2)
        points.append(([a, b], 1.0 if a * a + b * b < 1.5 else 0.0))
    return points


def train(schedule_fn, data, epochs=300, base_lr=0.05, init_seed=0, **kwargs):
    """The lesson's ``train_with_schedule``: per-epoch mean squared error during training."""
    random.seed(init_seed)
    width = 8
    total_steps = epochs * len(data)
    sd = math.sqrt(2.0 / 2)
    w1 = [[random.gauss(0, sd) for _ in range(2)] for _ in range(width)]
    b1 = [0.0] * width
    w2 = [random.gauss(0, sd) for _ in range(width)]
    b2 = 0.0
    step = 0
    losses = []
    for _ in range(epochs):
        running = 0
        for x, target in data:
            lr = schedule_fn(step, lr=base_lr, total_steps=total_steps, **kwargs)
            pre = [w1[i][0] * x[0] + w1[i][1] * x[1] + b1[i] for i in range(width)]
            act = [max(0.0, p) for p in pre]
            logit = sum(w2[i] * act[i] for i in range(width)) + b2
            logit = max(-500, min(500, logit))
            out = 1.0 / (1.0 + math.exp(-logit))
            d_out = (out - target) * out * (1 - out)
            for i in range(width):
                d_h = d_out * w2[i] * (1.0 if pre[i] > 0 else 0.0)
                w2[i] -= lr * d_out * act[i]
                for j in range(2):
                    w1[i][j] -= lr * d_h * x[j]
                b1[i] -= lr * d_h
            b2 -= lr * d_out
            running += (out - target) ** 2
            step += 1
        losses.append(running / len(data))
    return losses


def compare_rows(epochs=300, base_lr=0.05):
    """The lesson's comparison table: (label, start, middle, end, best) per schedule."""
    data = circle_points()
    rows = []
    for label, fn, extra in LESSON_CONFIGS:
        losses = train(fn, data, epochs=epochs, base_lr=base_lr, **extra)
        rows.append((label, losses[0], losses[len(losses) // 2], losses[-1], min(losses)))
    return rows


def status(start, end):
    if end > start or math.isnan(end) or end > 1.0:
        return "DIVERGED"
    if end > start * 0.9:
        return "BARELY MOVED"
    if end < 0.15:
        return "CONVERGED"
    return "LEARNING"


def sensitivity_rows(lrs=(1.0, 0.1, 0.01, 0.001, 0.0001), epochs=100):
    """The lesson's sensitivity table: (lr, start, end, status) per LR."""
    data = circle_points()
    rows = []
    for lr in lrs:
        losses = train(constant_lr, data, epochs=epochs, base_lr=lr)
        rows.append((lr, losses[0], losses[-1], status(losses[0], losses[-1])))
    return rows
