"""Tiny deterministic user tasks for the lab tests, loaded as ``labtasks:NAME``.

Their losses are known functions of the schedule and the seed, so the tests can compute
every expected summary by hand. Two environment variables change nothing in the results
(so they are not options, which would be part of each run's key):

- ``LABTASKS_LOG``: a file to which every invocation appends ``schedule|seed|steps|pid``
  (one line, one ``write`` in append mode), to count how often each run was executed;
- ``LABTASKS_DELAY``: seconds each invocation sleeps before returning (a slow task for the
  interruption tests).
"""

from __future__ import annotations

import math
import os
import time

from lrlab.lab import Record, RunResult

#: the per-seed noise draws (seed ``s`` uses ``NOISE[s % len(NOISE)]``), fixed and visible
NOISE = (0.3, -1.1, 0.8, -0.2, 1.4, -0.9, 0.5, -0.6)


def _note(schedule: object, seed: int, steps: int) -> None:
    path = os.environ.get("LABTASKS_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{schedule}|{seed}|{steps}|{os.getpid()}\n")
    delay = float(os.environ.get("LABTASKS_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)


def rate(lr: float) -> float:
    """How much one update at ``lr`` lowers the log-loss: ``lr`` up to 1, beyond that the
    loss grows (``1 - lr`` < 0), the way a too-large step makes a real run blow up."""
    return lr if lr <= 1.0 else 1.0 - lr


def decay_losses(lrs: list[float], scale: float = 1.0) -> list[float]:
    """``loss_t = scale * exp(-sum_{i<t} rate(lr_i))``; NaN once the exponent passes 700."""
    losses, total = [], 0.0
    for lr in lrs:
        losses.append(scale * math.exp(-total) if -total < 700 else math.nan)
        total += rate(lr)
    return losses


def decay(schedule, *, seed, steps, noise=0.0):
    """Loss ``(1 + noise * NOISE[seed]) * exp(-sum_{i<t} rate(lr_i))`` (no validation)."""
    _note(schedule, seed, steps)
    lrs = [float(schedule(t)) for t in range(steps)]
    scale = 1.0 + noise * NOISE[seed % len(NOISE)]
    losses = decay_losses(lrs, scale)
    return RunResult(tuple(Record(t, lr, loss) for t, (lr, loss) in enumerate(zip(lrs, losses))),
                     {"task": "decay", "seed": seed})


decay.default_steps = 20
decay.default_peak = 0.1
decay.converged_loss = 0.1


def level(schedule, *, seed, steps, spread=0.1, jitter=0.0):
    """A flat loss ``c * (1 + spread * NOISE[seed]) + jitter * NOISE[(7 seed + 1000 c) mod
    len]`` with ``c = schedule(0)`` at every step, and a validation loss equal to it on the
    last row: arms whose means and noise are chosen. The ``spread`` part is shared by arms
    of one seed (pairing removes it); the ``jitter`` part is the arm's own."""
    _note(schedule, seed, steps)
    c = float(schedule(0))
    value = c * (1.0 + spread * NOISE[seed % len(NOISE)])
    value += jitter * NOISE[(7 * seed + round(1000 * c)) % len(NOISE)]
    rows = [Record(t, float(schedule(t)), value) for t in range(steps - 1)]
    rows.append(Record(steps - 1, float(schedule(steps - 1)), value, val_loss=value))
    return RunResult(tuple(rows))


level.default_steps = 3
level.default_peak = 1.0


def flaky(schedule, *, seed, steps, fail_seed=1, until=""):
    """:func:`decay`, but seed ``fail_seed`` raises until the file ``until`` exists."""
    if seed == fail_seed and not (until and os.path.exists(until)):
        _note(schedule, seed, steps)
        raise RuntimeError(f"labtasks: flaky failure for seed {seed}")
    return decay(schedule, seed=seed, steps=steps)


flaky.default_steps = 10
flaky.default_peak = 0.1


def bad_return(schedule, *, seed, steps):
    """Returns something that is not a history."""
    return {"loss": 1.0}
