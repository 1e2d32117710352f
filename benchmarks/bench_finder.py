"""How good are the LR finder's suggestions? Each against the grid-best warmup + cosine peak.

For each lab task (``circle``, ``digits``, ``charlm``; any ``--task``):

1. A grid of full warmup + cosine runs: ``warmup(W, cosine(peak, 0, steps - W))`` with
   ``W = 5%`` of ``steps``, peaks spaced by a factor ``sqrt(2)``, ``--grid-seeds`` seeds
   each. A run's final loss is its last ``val_loss`` (digits, charlm) or its last training
   loss (circle, whose loss is the whole training set); a diverged run counts as infinite.
   The grid-best peak minimizes the mean final loss over seeds. Every run is stored in a
   JSON file under ``--out`` as it finishes, so an interrupted benchmark resumes.
2. The range test on the same task: ``find_lr_task`` with ``--sweep-steps`` updates per
   seed and ``--sweep-seeds`` seeds (default 100 x 3 = 300 updates), ladder 1e-7 -> 10.
3. For every label: ratio = suggested LR / grid-best peak, and the final loss at the
   suggestion relative to the grid best. That loss is interpolated on the grid (linear in
   log LR between the two nearest grid peaks; a suggestion outside the grid takes the
   end's value and is marked); for the recommended label (``warmup+cosine``) it is also
   measured by full runs at the suggested peak, same seeds.

Goal (issue 10): the recommended suggestion within a factor 2 of the grid-best peak on every
built-in task, with at most 300 sweep updates.

    PYTHONPATH=src python benchmarks/bench_finder.py --out bench-out/finder
    PYTHONPATH=src python benchmarks/bench_finder.py --task charlm --steps 500 --grid-seeds 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lrlab
from _common import machine
from lrlab.lab.tasks import get_task

#: per task: (grid peaks low, high, steps of a full run, task options)
DEFAULTS: dict[str, tuple[float, float, int, dict[str, Any]]] = {
    "circle": (0.05, 3.2, 4000, {}),
    "digits": (0.0125, 0.8, 500, {}),
    "charlm": (1e-3, 6.4e-2, 500, {}),
}


def grid_peaks(low: float, high: float) -> list[float]:
    """Peaks ``low * sqrt(2)^k`` up to ``high`` (inclusive, to rounding)."""
    count = math.floor(2 * math.log2(high / low) + 1e-9) + 1
    return [float(f"{low * math.sqrt(2) ** k:.4g}") for k in range(count)]


def final_losses(result: Any) -> dict[str, float]:
    """``train``: the mean training loss of the last 5% of updates (``circle``'s training
    loss is the whole training set's); ``val``: the last validation loss. Both infinite for
    a diverged run."""
    if result.diverged:
        return {"train": math.inf, "val": math.inf}
    rows = result.history
    tail = rows[-max(1, len(rows) // 20) :]
    last_val = rows[-1].val_loss
    return {
        "train": float(np.mean([r.loss for r in tail])),
        "val": float(last_val) if last_val is not None else math.inf,
    }


def schedule_for(peak: float, steps: int) -> lrlab.Schedule:
    warm = max(1, round(0.05 * steps))
    return lrlab.warmup(warm, lrlab.cosine(peak, 0.0, steps - warm))


class Store:
    """Runs as JSON lines: key -> final losses (resumable)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.values: dict[str, dict[str, float]] = {}
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    row = json.loads(line)
                    self.values[row["key"]] = {
                        k: math.inf if v is None else v for k, v in row["losses"].items()
                    }

    def get(self, task: str, options: dict[str, Any], peak: float, seed: int, steps: int) -> dict[str, float]:
        key = json.dumps([task, options, f"{peak:.6g}", seed, steps], sort_keys=True)
        if key not in self.values:
            result = get_task(task).run(schedule_for(peak, steps), seed=seed, steps=steps, **options)
            losses = final_losses(result)
            self.values[key] = losses
            with open(self.path, "a") as f:
                f.write(
                    json.dumps(
                        {
                            "key": key,
                            "losses": {k: v if math.isfinite(v) else None for k, v in losses.items()},
                        }
                    )
                    + "\n"
                )
        return self.values[key]


def interpolate(peaks: list[float], losses: list[float], lr: float) -> tuple[float, bool]:
    """Final loss at ``lr``, linear in log LR between grid points; (value, inside grid)."""
    x = np.log(peaks)
    if lr <= peaks[0]:
        return losses[0], lr >= peaks[0] * 0.999
    if lr >= peaks[-1]:
        return losses[-1], lr <= peaks[-1] * 1.001
    j = int(np.searchsorted(x, math.log(lr)))
    a, b = losses[j - 1], losses[j]
    if not (math.isfinite(a) and math.isfinite(b)):
        return (a if math.log(lr) - x[j - 1] < x[j] - math.log(lr) else b), True
    w = (math.log(lr) - x[j - 1]) / (x[j] - x[j - 1])
    return float(a + w * (b - a)), True


def sweep_configs(text: str) -> list[tuple[int, int]]:
    """'300x1,100x3' -> [(300, 1), (100, 3)]: updates per sweep x seeds."""
    out = []
    for part in text.split(","):
        steps, _, seeds = part.partition("x")
        out.append((int(steps), int(seeds or 1)))
    return out


def bench_task(task: str, args: argparse.Namespace, store: Store) -> dict[str, Any]:
    from lrlab.torch.finder import RECOMMENDED, find_lr_task

    low, high, steps, options = DEFAULTS.get(task, (1e-4, 1.0, get_task(task).default_steps, {}))
    steps = args.steps or steps
    peaks = grid_peaks(low, high)
    seeds = list(range(args.grid_seeds))
    started = time.perf_counter()
    tables: dict[str, list[float]] = {"train": [], "val": []}
    for peak in peaks:
        runs = [store.get(task, options, peak, s, steps) for s in seeds]
        for metric, table in tables.items():
            values = [r[metric] for r in runs]
            table.append(float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.inf)
        print(
            f"  {task} grid peak {peak:.4g}: train {tables['train'][-1]:.4f} val {tables['val'][-1]:.4f}",
            file=sys.stderr,
            flush=True,
        )
    grid_s = time.perf_counter() - started
    best = {m: (peaks[int(np.argmin(t))], float(min(t))) for m, t in tables.items()}

    sweeps = []
    for num_steps, n_seeds in sweep_configs(args.sweeps):
        for repeat in range(args.repeats):
            started = time.perf_counter()
            sweep_seeds = [100 + 10 * repeat + k for k in range(n_seeds)]
            found = find_lr_task(task, num_steps=num_steps, seeds=sweep_seeds, options=options)
            rows: dict[str, Any] = {}
            for label, sug in found.suggestions.items():
                if sug.lr is None:
                    rows[label] = {"lr": None, "reason": sug.reason}
                    continue
                row: dict[str, Any] = {"lr": sug.lr}
                for metric, table in tables.items():
                    loss, inside = interpolate(peaks, table, sug.lr)
                    row[metric] = {
                        "ratio": sug.lr / best[metric][0],
                        "loss_ratio": loss / best[metric][1],
                        "inside_grid": inside,
                    }
                if label == "interval":
                    row.update(low=sug.low, high=sug.high)
                rows[label] = row
            rec = found.suggestions[RECOMMENDED].lr
            if rec is not None and repeat == 0:
                runs = [store.get(task, options, rec, s, steps) for s in seeds]
                for metric in tables:
                    values = [r[metric] for r in runs]
                    mean = float(np.mean(values)) if all(math.isfinite(v) for v in values) else math.inf
                    rows[RECOMMENDED][metric]["loss_ratio_measured"] = mean / best[metric][1]
            sweeps.append(
                {
                    "config": f"{num_steps}x{n_seeds}",
                    "repeat": repeat,
                    "seeds": sweep_seeds,
                    "updates": found.num_updates,
                    "reason": found.reason,
                    "suggestions": rows,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(
                f"  {task} sweep {num_steps}x{n_seeds} repeat {repeat}: recommended "
                f"{rec if rec is None else round(rec, 5)}",
                file=sys.stderr,
                flush=True,
            )
    return {
        "task": task,
        "steps": steps,
        "options": options,
        "grid_seeds": seeds,
        "peaks": peaks,
        "grid": tables,
        "best": best,
        "sweeps": sweeps,
        "grid_s": round(grid_s, 1),
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """Per task and sweep configuration: each label's LR and its ratio to the grid-best peak
    (by validation loss, and by training loss), with the loss ratio at the suggestion."""
    lines = []
    for r in results:
        (bv, lv), (bt, lt) = r["best"]["val"], r["best"]["train"]
        lines.append(
            f"**{r['task']}** ({r['steps']} updates per grid run, {len(r['grid_seeds'])} seeds): "
            f"grid-best peak {bv:.3g} by final validation loss ({lv:.4f}), {bt:.3g} by final "
            f"training loss ({lt:.4f})"
        )
        lines.append("")
        lines.append(
            "| sweep | label | suggestion | / best (val) | loss ratio (val) | / best (train) | "
            "loss ratio (train) |"
        )
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for sw in r["sweeps"]:
            tag = f"{sw['config']} #{sw['repeat']}"
            for label, row in sw["suggestions"].items():
                if row.get("lr") is None:
                    lines.append(f"| {tag} | {label} | none | | | | |")
                    continue
                cells = []
                for metric in ("val", "train"):
                    m = row[metric]
                    loss = f"{m['loss_ratio']:.3f}" + ("" if m["inside_grid"] else " (edge)")
                    if "loss_ratio_measured" in m:
                        loss += f", run {m['loss_ratio_measured']:.3f}"
                    cells += [f"{m['ratio']:.2f}", loss]
                value = f"{row['lr']:.3g}" if label != "interval" else f"{row['low']:.3g}..{row['high']:.3g}"
                bold = "**" if label == "warmup+cosine" else ""
                lines.append(f"| {tag} | {bold}{label}{bold} | {value} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


# --- demonstrations on charlm: guard, surgeon, sharpness -----------------------------------
#
# The lab's tasks train internally; these demonstrations need the model, the optimizer and
# the batches, so they rebuild charlm's pieces (its model class, corpus and batching) at a
# small size: 1 layer, 4 heads, 32 wide, context 32, 16 sequences per batch.

SMALL = {"n_layer": 1, "n_head": 4, "n_embd": 32, "block_size": 32, "batch_size": 16}


def charlm_parts(seed: int, lr: float):
    """(model, optimizer, next_batch, evaluate) for a small charlm, as the task builds it."""
    import torch

    from lrlab.lab.tasks import charlm
    from lrlab.torch import param_groups

    gpt = getattr(charlm, "_gpt_class", None)
    make_batch = getattr(charlm, "_batch", None)
    if gpt is None or make_batch is None:
        raise SystemExit("this lrlab's charlm task has no model builder to reuse (see docs/guard.md)")
    train, val, vocab = charlm.encoded()
    block, batch = SMALL["block_size"], SMALL["batch_size"]
    torch.manual_seed(seed)
    model = gpt()(len(vocab), block, SMALL["n_layer"], SMALL["n_head"], SMALL["n_embd"])
    optimizer = torch.optim.AdamW(param_groups(model, 0.1), lr=lr, betas=(0.9, 0.95))
    rng = np.random.default_rng(seed)
    val_rng = np.random.default_rng(20240601)
    val_batches = [
        make_batch(val, val_rng.integers(0, len(val) - block - 1, size=batch), block) for _ in range(16)
    ]

    def next_batch():
        return make_batch(train, rng.integers(0, len(train) - block - 1, size=batch), block)

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            loss = float(np.mean([model(x, y)[1].item() for x, y in val_batches]))
        model.train()
        return loss

    return model, optimizer, next_batch, evaluate


def demo_guard(seeds: list[int], steps: int = 600, peak: float = 1e-2) -> dict[str, Any]:
    """Bad batches (targets replaced by random characters, 3 batches at 25%, 40% and 55% of
    the run) and an LR spike (x30 for 5 updates at 70%): clean, unguarded, guarded. Both
    faults are tied to the batch stream (the i-th batch drawn), so a rollback that skips
    batches leaves them behind. Every arm runs until its scheduler has taken ``steps``
    updates; all clip the gradient norm to 1 as the charlm task does."""
    import torch

    from lrlab.torch import Guard, Scheduler

    bad_at = {int(steps * f) + k for f in (0.25, 0.4, 0.55) for k in range(3)}
    spike = set(range(int(0.7 * steps), int(0.7 * steps) + 5))
    out: dict[str, list[float]] = {"clean": [], "unguarded": [], "guarded": []}
    events: dict[int, list[str]] = {}
    for arm in out:
        for seed in seeds:
            model, optimizer, next_batch, evaluate = charlm_parts(seed, peak)
            schedule = lrlab.warmup(steps // 20, lrlab.cosine(peak, 0.0, steps - steps // 20))
            scheduler = Scheduler(optimizer, schedule)
            guard = Guard(model, optimizer, scheduler=scheduler) if arm == "guarded" else None
            gen = torch.Generator().manual_seed(seed)
            drawn = 0
            while scheduler.last_epoch < steps and drawn < 2 * steps:
                x, y = next_batch()
                drawn += 1
                if guard is not None and guard.skip_batches > 0:
                    guard.skip_batches -= 1
                    continue
                if arm != "clean" and drawn - 1 in bad_at:
                    y = torch.randint(0, 96, y.shape, generator=gen)
                factor = 30.0 if arm != "clean" and drawn - 1 in spike else 1.0
                for g in optimizer.param_groups:
                    g["lr"] = g["lr"] * factor
                _, loss = model(x, y)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                if guard is None:
                    optimizer.step()
                else:
                    guard.step(loss)
                for g in optimizer.param_groups:
                    g["lr"] = g["lr"] / factor
                scheduler.step()
            final = evaluate()
            out[arm].append(final if math.isfinite(final) else math.inf)
            if guard is not None:
                events[seed] = [f"{e.step}:{e.kind}" for e in guard.events]
            print(f"  guard demo {arm} seed {seed}: val {final:.4f}", file=sys.stderr, flush=True)
    return {
        "steps": steps,
        "peak": peak,
        "bad_batches_at": sorted(bad_at),
        "lr_spike_x30_at": sorted(spike),
        "final_val": out,
        "guard_events": events,
    }


def demo_surgeon(seeds: list[int], steps: int = 600, peak: float = 1e-2) -> dict[str, Any]:
    """The surgeon (warmup up to 10%, switch when the loss stabilises, plateau cuts) against a
    hand-set warmup 5% + cosine to 0 at the same peak and length."""
    from lrlab.torch import Scheduler, Surgeon

    out: dict[str, Any] = {"hand": [], "surgeon": [], "switch": [], "events": {}}
    for seed in seeds:
        for arm in ("hand", "surgeon"):
            model, optimizer, next_batch, evaluate = charlm_parts(seed, peak)
            surgeon = Surgeon(peak, steps) if arm == "surgeon" else None
            scheduler = (
                None
                if surgeon
                else Scheduler(
                    optimizer, lrlab.warmup(steps // 20, lrlab.cosine(peak, 0.0, steps - steps // 20))
                )
            )
            for t in range(steps):
                if surgeon is not None:
                    surgeon.apply(optimizer, t)
                x, y = next_batch()
                _, loss = model(x, y)
                optimizer.zero_grad()
                loss.backward()
                import torch

                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                if surgeon is not None:
                    surgeon.update(t, loss.item())
                else:
                    scheduler.step()
            out[arm].append(evaluate())
            if surgeon is not None:
                out["switch"].append(surgeon.switch_step)
                out["events"][seed] = [f"{e.step}:{e.kind}" for e in surgeon.events]
                out.setdefault("reasons", {})[seed] = [e.reason for e in surgeon.events]
                out.setdefault("schedules", []).append(str(surgeon.schedule))
            print(f"  surgeon demo {arm} seed {seed}: val {out[arm][-1]:.4f}", file=sys.stderr, flush=True)
    out.update(steps=steps, peak=peak)
    return out


def demo_sharpness(
    seed: int = 0,
    steps: int = 200,
    peak: float = 1e-2,
    warmup: int = 50,
    probe_at: tuple[int, ...] = (5, 10, 25, 50, 100, 150, 199),
) -> dict[str, Any]:
    """AdamW's preconditioned sharpness against 38/lr_t, with and without a linear warmup.
    The Rayleigh quotient of power iteration never exceeds the top eigenvalue, so a ratio
    above 1 is above the edge even when the iteration has not converged."""
    from lrlab.torch import SharpnessProbe

    probe_at = [t for t in probe_at if 0 < t < steps]
    out: dict[str, Any] = {"steps": probe_at, "peak": peak}
    for warm in (0, warmup):
        model, optimizer, next_batch, evaluate = charlm_parts(seed, peak)
        probe = SharpnessProbe(steps=probe_at, max_hvps=60, tol=1e-2)
        probe_batch = next_batch()
        losses = []
        for t in range(steps):
            lr_t = peak * min(1.0, t / warm) if warm else peak
            for g in optimizer.param_groups:
                g["lr"] = max(lr_t, 1e-12)
            if t > 0:  # Adam's preconditioner exists after its first step
                probe.maybe(
                    t, model=model, closure=lambda m=model, b=probe_batch: m(*b)[1], optimizer=optimizer
                )
            x, y = next_batch()
            _, loss = model(x, y)
            losses.append(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        out[f"warmup_{warm}"] = {
            "eig": [r.eigenvalue for r in probe.results],
            "at": [r.step for r in probe.results],
            "lr_t": [r.lr for r in probe.results],
            "ratio_to_38_over_lr_t": [r.ratio for r in probe.results],
            "hvps": [r.hvps for r in probe.results],
            "converged": [r.converged for r in probe.results],
            "final_val": evaluate(),
            "max_loss_first_50": max(losses[:50]),
        }
        print(f"  sharpness demo warmup {warm}: {out[f'warmup_{warm}']}", file=sys.stderr, flush=True)
    out["threshold_at_peak"] = 38 / peak
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", action="append", help="task(s) (default: circle, digits, charlm)")
    parser.add_argument("--steps", type=int, help="updates per grid run (default: per task)")
    parser.add_argument("--grid-seeds", type=int, default=3)
    parser.add_argument(
        "--sweeps", default="300x1,100x3", help="sweep configurations, updates x seeds (default 300x1,100x3)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="repeats of each sweep configuration (new seeds)"
    )
    parser.add_argument("--out", default="bench-out/finder")
    parser.add_argument(
        "--demo",
        choices=("guard", "surgeon", "sharpness"),
        action="append",
        help="run a demonstration on a small charlm instead of the benchmark",
    )
    parser.add_argument("--demo-seeds", type=int, default=3)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    store = Store(os.path.join(args.out, "runs.jsonl"))
    import torch

    torch.set_num_threads(1)
    if args.demo:
        seeds = list(range(args.demo_seeds))
        demos = {
            "guard": lambda: demo_guard(seeds),
            "surgeon": lambda: demo_surgeon(seeds),
            "sharpness": lambda: demo_sharpness(),
        }
        for name in args.demo:
            result = demos[name]()
            with open(os.path.join(args.out, f"demo_{name}.json"), "w") as f:
                json.dump(result, f, indent=1, default=str)
            print(json.dumps(result, default=str))
        return
    results = [bench_task(task, args, store) for task in (args.task or list(DEFAULTS))]
    report = {"machine": machine(torch=torch.__version__), "results": results}
    with open(os.path.join(args.out, "finder.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    print(markdown(results))


if __name__ == "__main__":
    main()
