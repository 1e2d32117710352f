"""Speed of lrlab.torch: ``Scheduler.step()`` against torch's schedulers, and a compiled step.

Targets (from the issue):

1. ``lrlab.torch.Scheduler.step()`` with float LRs costs at most 2.5x the floor (a
   hand-written ``step()`` that computes ``s(t)`` and sets ``group['lr']`` for each group)
   and at most 0.25x torch ``LambdaLR.step()`` (with the equivalent lambda: transformers'
   ``get_cosine_with_min_lr_schedule_with_warmup``), with 1, 2 and 100 parameter groups;
   with tensor LRs at most 1.3x the ``fill_`` floor; each extra scheduled key (momentum)
   at most one extra floor of that key. Only ``step()`` is timed, no optimizer math.
   ``SequentialLR(LinearLR, CosineAnnealingLR)`` is measured beside them.
2. A ``torch.compile``'d training step (small MLP, AdamW; forward, backward and optimizer
   step in one compiled function) whose tensor LR lrlab's ``Scheduler`` changes at every
   step costs at most 5% more per step than the same compiled step with a constant LR,
   with 0 recompiles. The float-LR baseline (the same Scheduler on a float LR) is reported
   beside it: its time per step and its recompiles.

Method, part 1: every scheduler drives a fresh SGD (one 1-element parameter per group, one
``optimizer.step()`` first as in training, so torch takes no warning path). The schedule is
warmup(715) + cosine to 10% over 10,000,000 steps, so every timed step is a real step of
it. For each number of groups, the schedulers and floor loops take turns (in a shuffled
order) at timed chunks of ``--chunk`` ``step()`` calls in a Python loop,
``time.perf_counter`` around each chunk, the garbage collector off; each keeps stepping
through the schedule. A ratio is the median over chunks of lrlab's time over the other's
chunk timed moments before or after it, so bursts of load from other processes fall on
both sides or spoil a few chunks that the median ignores. Groups hold float LRs and, in
extra rows, tensor LRs (``use_tensor_lr``: every scheduler updates them with ``fill_``).

Method, part 2: each variant of the training step has its own model, optimizer, scheduler
and compiled function. The target pair (constant float LR, lrlab's tensor LR) shares one
process, where copies of one step time alike; each float-LR baseline has a process of its
own (spawned before any timing: a fresh Dynamo with the default configuration and its own
recompile cap, as a training script would, and no other optimizer of its class to share
Dynamo's cache entries or its "automatic dynamic" view of the LR). ``--threads`` intra-op
threads. After the first call (the compile) and 20 warm-up steps, the parent has each
variant in turn, round after round (in a new random order each round), take 3 untimed
steps (caches warm again after the other variants ran) and then time ``--train-steps``
steps; only one process runs at a time. A variant's ratio is the median
over rounds of its time over its reference's time in the same round. Recompiles are the
graphs Dynamo compiled during the variant's calls after its first one
(``torch._dynamo.utils.counters["stats"]["unique_graphs"]``; Dynamo has no recompile
counter). SGD with momentum recompiles once on its second call whatever the LR, when its
momentum buffers appear; AdamW's state exists before the first trace.

The exit status is 1 if a target is missed.

    python benchmarks/bench_torch.py            # full run (a few minutes: compiles)
    python benchmarks/bench_torch.py --quick    # short run
"""

from __future__ import annotations

import argparse
import datetime
import math
import multiprocessing as mp
import os
import random
import statistics
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import lrlab
from _common import machine as machine_info
from _common import timed
from lrlab.torch import Scheduler, use_tensor_lr

LAMBDA_TARGET = 0.25  # lrlab's step() at most this fraction of LambdaLR's (float LRs)
FLOOR_TARGET = 2.5  # ... and at most this multiple of the hand-written floor loop
TENSOR_TARGET = 1.3  # tensor LRs: at most this multiple of the fill_ floor loop
EXTRA_TARGET = 1.0  # each extra scheduled key: at most one extra floor (of that key)
COMPILED_TARGET = 1.05  # compiled step with lrlab's changing tensor LR / constant LR

PEAK, FLOOR = 6e-4, 6e-5
WARMUP, HORIZON = 715, 10_000_000
SCHEDULE = lrlab.warmup(WARMUP, lrlab.cosine(PEAK, FLOOR, HORIZON - WARMUP))
MOMENTUM = lrlab.join(lrlab.cosine(0.95, 0.85, WARMUP), lrlab.cosine(0.85, 0.95, HORIZON - WARMUP))
GROUPS = (1, 2, 100)


# --------------------------------------------------------------------------------------
# part 1: scheduler.step() alone
# --------------------------------------------------------------------------------------


def make_optimizer(groups: int, tensor_lr: bool) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    optimizer = torch.optim.SGD([{"params": [p]} for p in params], lr=PEAK, momentum=0.9)
    if tensor_lr:
        use_tensor_lr(optimizer)
    return optimizer


def lambda_lr(optimizer: torch.optim.Optimizer) -> tuple[torch.optim.lr_scheduler.LRScheduler, str]:
    """transformers' warmup + cosine to a minimum LR: a LambdaLR, as its Trainer builds it."""
    try:
        from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup
    except Exception:  # not installed, or not importable here: the same lambda, written out
        def lr_lambda(step: int) -> float:
            if step < WARMUP:
                return float(step) / float(max(1, WARMUP))
            progress = float(step - WARMUP) / float(max(1, HORIZON - WARMUP))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)) * (1 - FLOOR / PEAK) + FLOOR / PEAK)

        return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda), "LambdaLR (transformers' lambda)"
    return (get_cosine_with_min_lr_schedule_with_warmup(optimizer, WARMUP, HORIZON, min_lr_rate=FLOOR / PEAK),
            "LambdaLR (transformers get_cosine_with_min_lr_schedule_with_warmup)")


def sequential_lr(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    return SequentialLR(optimizer, [LinearLR(optimizer, start_factor=1e-3, total_iters=WARMUP),
                                    CosineAnnealingLR(optimizer, T_max=HORIZON - WARMUP, eta_min=FLOOR)],
                        milestones=[WARMUP])


class FloorLoop:
    """The floor: a hand-written ``step()`` that computes ``schedule(t)`` once and sets one
    key of every group (``fill_`` on a tensor LR), and nothing else."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: lrlab.Schedule, key: str = "lr") -> None:
        groups = optimizer.param_groups
        s = schedule
        t = 0
        if isinstance(groups[0][key], torch.Tensor):
            def step() -> None:
                nonlocal t
                t += 1
                value = s(t)
                for g in groups:
                    g[key].fill_(value)
        else:
            def step() -> None:
                nonlocal t
                t += 1
                value = s(t)
                for g in groups:
                    g[key] = value
        self.step = step


MAKERS: dict[str, Callable[[torch.optim.Optimizer], object]] = {
    "lrlab": lambda opt: Scheduler(opt, SCHEDULE),
    "floor": lambda opt: FloorLoop(opt, SCHEDULE),
    "LambdaLR": lambda opt: lambda_lr(opt)[0],
    "SequentialLR": sequential_lr,
    "lrlab+momentum": lambda opt: Scheduler(opt, {"lr": SCHEDULE, "momentum": MOMENTUM}),
    "momentum floor": lambda opt: FloorLoop(opt, MOMENTUM, "momentum"),
}
FLOAT_ONLY = ("lrlab+momentum", "momentum floor")


def fresh(kind: str, groups: int, tensor_lr: bool):
    optimizer = make_optimizer(groups, tensor_lr)
    scheduler = MAKERS[kind](optimizer)
    optimizer.step()  # as in training: torch's first scheduler.step() checks for it
    return scheduler


def check_equivalent(steps: int) -> float:
    """Largest relative difference between lrlab's and the LambdaLR's LRs over ``steps``
    real steps: the timing compares two ways of computing the same schedule."""
    ours = fresh("lrlab", 1, False)
    theirs = fresh("LambdaLR", 1, False)
    worst = 0.0
    for _ in range(steps):
        a, b = ours.get_last_lr()[0], theirs.get_last_lr()[0]
        worst = max(worst, abs(a - b) / max(abs(a), abs(b), 1e-300))
        ours.step()
        theirs.step()
    return worst


def step_loop(scheduler, steps: int) -> Callable[[], None]:
    def run() -> None:
        step = scheduler.step
        for _ in range(steps):
            step()

    return run


@dataclass
class StepCase:
    """One scheduler of one kind on one optimizer, stepped on chunk after chunk."""

    kind: str
    groups: int
    tensor_lr: bool
    chunk: int  # steps per timed chunk
    per_step: list[float] = field(default_factory=list)  # seconds per step, one per chunk


def bench_step(chunks: int, chunk: int, seed: int = 0, groups: tuple[int, ...] = GROUPS,
               tensor: tuple[bool, ...] = (False, True)) -> dict[tuple[str, int, bool], StepCase]:
    """Each (groups, LR kind): the schedulers and floor loops take turns, chunk by chunk (in
    a shuffled order each time), so that each chunk of lrlab has a floor and a LambdaLR
    chunk timed moments before or after it; a burst of load from other processes spoils a
    few chunks, which the medians then ignore. Every one keeps stepping through the schedule."""
    rng = random.Random(seed)
    cases: dict[tuple[str, int, bool], StepCase] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning path inside a timed loop would be timed
        for count in groups:
            n = chunk if count <= 2 else max(10, chunk * 2 // count)  # ~the same time a chunk
            for tensor_lr in tensor:
                kinds = [k for k in MAKERS if not (tensor_lr and k in FLOAT_ONLY)]
                group = {kind: StepCase(kind, count, tensor_lr, n) for kind in kinds}
                loops = {kind: step_loop(fresh(kind, count, tensor_lr), n) for kind in kinds}
                for loop in loops.values():  # warm-up
                    loop()
                order = list(kinds)
                for _ in range(chunks):
                    rng.shuffle(order)
                    for kind in order:
                        group[kind].per_step.append(timed(loops[kind]) / n)
                cases.update({(kind, count, tensor_lr): case for kind, case in group.items()})
    return cases


def _ratio(a: StepCase, b: StepCase) -> float:
    return statistics.median(x / y for x, y in zip(a.per_step, b.per_step))


def report_step(cases: dict[tuple[str, int, bool], StepCase], lambda_name: str) -> bool:
    ok = True

    def mark(passed: bool) -> str:
        nonlocal ok
        ok = ok and passed
        return "pass" if passed else "**MISS**"

    print(f"| param groups | LR | lrlab `Scheduler.step()` | floor loop | {lambda_name} | "
          "SequentialLR(LinearLR, CosineAnnealingLR) | lrlab / floor | lrlab / LambdaLR | |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for groups in GROUPS:
        for tensor_lr in (False, True):
            ours = cases["lrlab", groups, tensor_lr]
            floor = cases["floor", groups, tensor_lr]
            lam = cases["LambdaLR", groups, tensor_lr]
            seq = cases["SequentialLR", groups, tensor_lr]
            to_floor, to_lambda = _ratio(ours, floor), _ratio(ours, lam)
            if tensor_lr:
                verdict = f"floor <= {TENSOR_TARGET}x: {mark(to_floor <= TENSOR_TARGET)}"
            else:
                verdict = (f"floor <= {FLOOR_TARGET}x: {mark(to_floor <= FLOOR_TARGET)}; "
                           f"LambdaLR <= {LAMBDA_TARGET}x: {mark(to_lambda <= LAMBDA_TARGET)}")
            print(f"| {groups} | {'tensor (`fill_`)' if tensor_lr else 'float'} | {fmt_us(ours.per_step)} | "
                  f"{fmt_us(floor.per_step)} | {fmt_us(lam.per_step)} | {fmt_us(seq.per_step)} | "
                  f"{to_floor:.2f}x | {to_lambda:.2f}x (min/min "
                  f"{min(ours.per_step) / min(lam.per_step):.2f}x) | {verdict} |")

    print("\nAn extra scheduled key: `Scheduler(opt, {\"lr\": s, \"momentum\": m})` against the LR "
          "alone; its extra cost per step over the momentum floor loop (one `m(t)` and one "
          f"assignment per group), target <= {EXTRA_TARGET:.1f} floor:\n")
    print("| param groups | lrlab lr + momentum | lrlab lr | momentum floor | "
          "extra cost / momentum floor | |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    for groups in GROUPS:
        two, one = cases["lrlab+momentum", groups, False], cases["lrlab", groups, False]
        floor = cases["momentum floor", groups, False]
        extra = statistics.median((a - b) / f for a, b, f in zip(two.per_step, one.per_step, floor.per_step))
        print(f"| {groups} | {fmt_us(two.per_step)} | {fmt_us(one.per_step)} | {fmt_us(floor.per_step)} | "
              f"{extra:.2f} | {mark(extra <= EXTRA_TARGET)} |")
    return ok


def fmt_us(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e6:.2f} µs (min {min(samples) * 1e6:.2f})"


# --------------------------------------------------------------------------------------
# part 2: a compiled training step, one process per variant
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    lr: str  # "float" or "tensor"
    scheduler: str | None  # None (constant LR), "lrlab", "LambdaLR"
    process: int  # variants with the same number share a process
    optimizer: str = "AdamW"  # or "SGD" (momentum 0.9)
    reference: str = "const"  # the variant its time is compared with
    inside: bool = False  # scheduler.step() inside the compiled function (the torch recipe)
    quick: bool = True  # part of the --quick run


VARIANTS = [
    Variant("const", "AdamW, constant float LR, no scheduler (reference)", "float", None, 0),
    Variant("lrlab", "AdamW, lrlab Scheduler, tensor LR (`use_tensor_lr`)", "tensor", "lrlab", 0),
    Variant("const_tensor", "AdamW, constant tensor LR, no scheduler", "tensor", None, 0, quick=False),
    Variant("lambda", "AdamW, torch LambdaLR, tensor LR", "tensor", "LambdaLR", 0, quick=False),
    Variant("float", "AdamW, lrlab Scheduler, float LR (the baseline)", "float", "lrlab", 1),
    Variant("inside", "AdamW, lrlab Scheduler, tensor LR, `sched.step()` inside the compiled "
            "function (the PyTorch recipe)", "tensor", "lrlab", 2, inside=True, quick=False),
    Variant("sgd_const", "SGD, constant float LR, no scheduler (reference)", "float", None, 3, "SGD",
            "sgd_const", quick=False),
    Variant("sgd_lrlab", "SGD, lrlab Scheduler, tensor LR", "tensor", "lrlab", 3, "SGD", "sgd_const",
            quick=False),
    Variant("sgd_float", "SGD, lrlab Scheduler, float LR (the baseline)", "float", "lrlab", 4, "SGD",
            "sgd_const", quick=False),
]


UNTIMED = 3  # steps each variant takes, untimed, before each timed chunk


@dataclass(frozen=True)
class TrainConfig:
    width: int
    depth: int
    batch: int
    threads: int
    warmup: int


def _make_setup(variant: Variant, config: TrainConfig) -> tuple[Callable[[int], None], Callable[[int], dict]]:
    """A model, optimizer, scheduler and compiled step of one variant: its ``run(steps)``
    and ``state(steps_taken)`` (the LR it holds, and whether that is the scheduled one)."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    width_in = 64
    for _ in range(config.depth):
        layers += [torch.nn.Linear(width_in, config.width), torch.nn.GELU()]
        width_in = config.width
    layers.append(torch.nn.Linear(width_in, 10))
    model = torch.nn.Sequential(*layers)
    if variant.optimizer == "SGD":
        opt = torch.optim.SGD(model.parameters(), lr=PEAK, momentum=0.9)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=PEAK, weight_decay=0.1)
    if variant.lr == "tensor":
        use_tensor_lr(opt)
    sched = None
    if variant.scheduler == "lrlab":
        sched = Scheduler(opt, SCHEDULE)
    elif variant.scheduler == "LambdaLR":
        sched = lambda_lr(opt)[0]
    x = torch.randn(config.batch, 64)
    y = torch.randint(0, 10, (config.batch,))

    if variant.inside:
        @torch.compile
        def train_step(x, y):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            return loss
    else:
        @torch.compile
        def train_step(x, y):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss

    if sched is not None and not variant.inside:
        scheduler_step = sched.step

        def run(steps: int) -> None:
            for _ in range(steps):
                train_step(x, y)
                scheduler_step()
    else:
        def run(steps: int) -> None:
            for _ in range(steps):
                train_step(x, y)

    def state(taken: int) -> dict:
        lr = opt.param_groups[0]["lr"]
        lr = lr.item() if isinstance(lr, torch.Tensor) else float(lr)
        expected = SCHEDULE(taken) if variant.scheduler else PEAK
        if variant.lr == "tensor":
            expected = torch.tensor(expected, dtype=torch.float32).item()
        # lrlab's LR is s(t) exactly (rounded once to the tensor's float32); the LambdaLR's
        # is PEAK * lambda(t), within float64 rounding of it
        tolerance = 2 * 2.0**-23 * expected if variant.scheduler == "LambdaLR" else 0.0
        return {"lr": lr, "lr_ok": abs(lr - expected) <= tolerance}

    return run, state


def _train_worker(conn, variants: list[Variant], config: TrainConfig) -> None:
    """Variants of the compiled step sharing one process; answers the parent."""
    try:
        import torch._dynamo
        from torch._dynamo.utils import counters

        def graphs() -> int:
            return counters["stats"]["unique_graphs"]

        torch.set_num_threads(config.threads)
        setups, info = {}, {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Dynamo's notes on graph breaks in torch.optim
            for v in variants:
                run, state = _make_setup(v, config)
                before = graphs()
                compile_s = timed(lambda run=run: run(1))
                first = graphs() - before
                before = graphs()
                run(config.warmup)
                setups[v.key] = [run, state, 1 + config.warmup, graphs() - before]  # steps, recompiles
                info[v.key] = {"compile_s": compile_s, "first": first}
        conn.send(info)
        while True:
            message = conn.recv()
            if message[0] == "run":
                _, key, steps, untimed = message
                setup = setups[key]
                before = graphs()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    setup[0](untimed)  # caches warm again after the other variants ran
                    seconds = timed(lambda s=steps, run=setup[0]: run(s))
                setup[2] += untimed + steps
                setup[3] += graphs() - before
                conn.send(seconds)
            elif message[0] == "stats":
                _, key = message
                run, state, taken, recompiles = setups[key]
                limit_hit = any("recompile limit" in str(k).lower() for k in counters["unimplemented"])
                conn.send({"recompiles": recompiles, "steps": taken, "limit_hit": limit_hit,
                           **state(taken)})
            else:
                break
    except Exception as error:  # report it to the parent rather than leave it waiting
        conn.send({"error": f"{type(error).__name__}: {error}"})
        raise
    finally:
        conn.close()


@dataclass
class TrainResult:
    variant: Variant
    compile_s: float = 0.0
    first: int = 0
    per_step: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # per round, to its reference
    stats: dict = field(default_factory=dict)


def bench_compiled(variants: list[Variant], config: TrainConfig, rounds: int,
                   steps: int) -> dict[str, TrainResult]:
    ctx = mp.get_context("spawn")
    processes: dict[int, tuple] = {}
    results = {v.key: TrainResult(v) for v in variants}
    try:
        for number in sorted({v.process for v in variants}):  # one compile at a time
            members = [v for v in variants if v.process == number]
            parent, child = ctx.Pipe()
            process = ctx.Process(target=_train_worker, args=(child, members, config), daemon=True)
            process.start()
            child.close()
            answer = parent.recv()
            if "error" in answer:
                raise RuntimeError(f"process {number} failed: {answer['error']}")
            for key, item in answer.items():
                results[key].compile_s, results[key].first = item["compile_s"], item["first"]
                print(f"  compiled {key}: {item['compile_s']:.1f} s, {item['first']} graph(s)",
                      file=sys.stderr, flush=True)
            processes[number] = (process, parent)
        order = list(variants)
        rng = random.Random(0)
        for _ in range(rounds):
            times = {}
            rng.shuffle(order)
            for v in order:
                conn = processes[v.process][1]
                conn.send(("run", v.key, steps, UNTIMED))
                answer = conn.recv()
                if isinstance(answer, dict):
                    raise RuntimeError(f"variant {v.key!r} failed: {answer['error']}")
                times[v.key] = answer / steps
            for v in order:
                results[v.key].per_step.append(times[v.key])
                results[v.key].ratios.append(times[v.key] / times[v.reference])
        for v in order:
            conn = processes[v.process][1]
            conn.send(("stats", v.key))
            results[v.key].stats = conn.recv()
    finally:
        for process, conn in processes.values():
            try:
                conn.send(("quit",))
            except (BrokenPipeError, OSError):
                pass
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    return results


def report_compiled(results: dict[str, TrainResult]) -> bool:
    ok = True
    print("| variant | process | time per step | / its reference | graphs at the first call | "
          "recompiles after it | LR as scheduled at the end | first call (compile) | target | |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |")
    for key, result in results.items():
        v, stats = result.variant, result.stats
        ratio = statistics.median(result.ratios)
        same = v.process == results[v.reference].variant.process
        recompiles = stats["recompiles"]
        note = " (cap hit: the rest runs uncompiled)" if stats.get("limit_hit") and recompiles else ""
        if key == "lrlab":
            passed = ratio <= COMPILED_TARGET and recompiles == 0 and stats["lr_ok"] and same
            ok = ok and passed
            target = f"<= {COMPILED_TARGET:.2f}x, 0 recompiles"
            mark = "pass" if passed else "**MISS**"
        elif key == v.reference:
            target, mark = "reference", ""
        else:
            target, mark = "", "(info)"
        print(f"| {v.label} | {v.process} | {statistics.median(result.per_step) * 1e6:,.0f} µs "
              f"(min {min(result.per_step) * 1e6:,.0f}) | {ratio:.3f}x{'' if same else ' †'} | "
              f"{result.first} | {recompiles}{note} | {'yes' if stats['lr_ok'] else 'NO'} | "
              f"{result.compile_s:.1f} s | {target} | {mark} |")
    print("\n† measured in another process than its reference: indicative only. On this kind of "
          "machine two processes running the same compiled step can differ by 5% or more for "
          "their whole life (placement, memory layout), while two copies of the step in one "
          "process agree within about 1%; so the target pair shares a process. SGD with momentum "
          "recompiles once, on its second call, whatever its LR: its momentum buffers appear; "
          "a tensor LR adds no recompile to that.")
    return ok


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    return machine_info(torch=torch.__version__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short run: fewer rounds and steps; part 2 only the reference, "
                             "lrlab tensor-LR and float-LR variants")
    parser.add_argument("--chunks", type=int,
                        help="timed chunks per scheduler in part 1 (default 300, quick 100)")
    parser.add_argument("--chunk", type=int, default=1_000,
                        help="scheduler.step() calls per chunk, 1-2 groups (default 1,000; "
                             "100 groups: a 50th of it)")
    parser.add_argument("--train-rounds", type=int, help="rounds of part 2 (default 200, quick 150)")
    parser.add_argument("--train-steps", type=int,
                        help="compiled training steps per timing (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in part 2 (default 1)")
    parser.add_argument("--width", type=int, default=256, help="MLP width (default 256)")
    parser.add_argument("--depth", type=int, default=2, help="hidden layers (default 2)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--skip-compiled", action="store_true", help="part 1 only")
    args = parser.parse_args(argv)
    chunks = args.chunks or (100 if args.quick else 300)
    train_rounds = args.train_rounds or (150 if args.quick else 200)
    train_steps = args.train_steps or 20
    # one in-process compile per worker; a pool per worker would only compete for the CPUs
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")

    env = machine()
    print("# lrlab.torch benchmark\n")
    print(f"- command: `{' '.join(['python', *sys.argv])}`")
    print(f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- machine: {env['cpus']} CPUs (nproc), {env['cpu']}; Python {env['python']}, "
          f"torch {env['torch']}, lrlab {env['lrlab']} (git {env['revision']})")
    if hasattr(os, "getloadavg"):
        print(f"- load average at start: {os.getloadavg()[0]:.2f} (1 min)")
    sys.stdout.flush()

    ok = True
    _, lambda_name = lambda_lr(make_optimizer(1, False))
    worst = check_equivalent(5_000)
    print(f"\n## `scheduler.step()` per step (targets: float LRs <= {FLOOR_TARGET}x the floor loop and "
          f"<= {LAMBDA_TARGET}x LambdaLR; tensor LRs <= {TENSOR_TARGET}x the `fill_` floor loop)\n")
    print(f"Schedule `{SCHEDULE}`, momentum `{MOMENTUM}`; SGD (momentum 0.9) with one 1-element "
          f"parameter per group; per case {chunks} timed chunks of {args.chunk:,} steps "
          f"(100 groups: {max(10, args.chunk * 2 // 100):,}), every scheduler and floor loop taking "
          "turns chunk by chunk in a shuffled order; medians over chunks, ratios = medians of the "
          "per-chunk ratios. The floor loop is a hand-written `step()`: `t += 1; lr = s(t)` and "
          "`g['lr'] = lr` (or `g['lr'].fill_(lr)`) for each group. lrlab and the LambdaLR agree to "
          f"{worst:.1e} relative over the first 5,000 steps. SequentialLR's LinearLR warmup starts "
          "at 1e-3 of the peak (it cannot start at 0): the same cost, not the same values.\n")
    sys.stdout.flush()
    ok &= report_step(bench_step(chunks, args.chunk), lambda_name)
    if worst > 1e-12:
        print(f"\n**MISS**: lrlab and the LambdaLR differ by {worst:.1e} relative")
        ok = False

    if not args.skip_compiled:
        config = TrainConfig(args.width, args.depth, args.batch, args.threads, warmup=20)
        variants = [v for v in VARIANTS if v.quick or not args.quick]
        print(f"\n## Compiled training step (target: <= {COMPILED_TARGET:.2f}x the constant-LR step, "
              "0 recompiles)\n")
        print(f"MLP 64 -> {' -> '.join([str(args.width)] * args.depth)} -> 10 (GELU), batch "
              f"{args.batch}, cross-entropy; AdamW (weight decay 0.1) or SGD (momentum 0.9); "
              "`torch.compile` (Inductor) of one function doing forward, backward, `opt.step()` "
              "and `opt.zero_grad()`; the scheduler steps after it (outside the compiled "
              f"function) except where noted. {args.threads} torch thread(s); processes as numbered "
              f"in the table; after the first call and 20 warm-up steps, {train_rounds} rounds of "
              f"{UNTIMED} untimed and {train_steps} timed steps per variant; medians over rounds; "
              "ratio = median of the per-round ratios to the reference. Recompiles: graphs Dynamo "
              "compiled after the first call.\n")
        sys.stdout.flush()
        results = bench_compiled(variants, config, train_rounds, train_steps)
        ok &= report_compiled(results)

    if hasattr(os, "getloadavg"):
        print(f"\n- load average at end: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"\n{'All targets met.' if ok else 'A target was missed.'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
