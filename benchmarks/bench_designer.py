"""Latency of the designer's JSON API: what a drag or a hover waits for.

Every frame of a drag asks ``POST /api/plot`` for the curve (the page draws nothing it
did not get from Python), and every hover asks ``POST /api/at``. This measures those
requests in-process (Starlette's TestClient: the whole ASGI app, JSON in and out, without
a socket) on the cases the page sends: the default design, a dragged design, a preset
with token units, eight overlaid schedules, a 1e15-step range, a schedule with ~1000
phases (the limit), and the LR at a step.

Method: each case runs ``--warmup`` times untimed, then ``--repeat`` times with
``time.perf_counter`` around each request, the garbage collector on (as in the server);
the table gives the median and the 90th percentile in milliseconds and the number of
points returned. All cases run in one process, in turn, round after round. Each round
times every request twice: *cold*, with the app's memory of schedule summaries emptied
first (a schedule seen for the first time: the dragged one, at every frame), and *warm*
(a schedule drawn before: the overlaid ones while another is dragged).

    python benchmarks/bench_designer.py [--repeat 30] [--warmup 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from starlette.testclient import TestClient

from lrlab.web.app import _summary, create_app
from lrlab.web.design import Design

PRESETS8 = [
    "gpt3-125m",
    "llama3-405b",
    "bert-base",
    "minicpm-wsd",
    "olmo2-7b",
    "modded-nanogpt-trapezoid",
    "transformer-base",
    "resnet50-goyal",
]
PHASES = ", ".join(f"cosine(1.0, 0.5, {i + 1})" for i in range(1000))

CASES = {
    "default design, 1600 points": (
        "/api/plot",
        {"layers": [{"spec": "warmup(100, cosine(0.001, 0.0001, 900))"}], "points": 1600},
    ),
    "a dragged WSD design": (
        "/api/plot",
        {
            "layers": [
                {"design": Design(shape="wsd", warmup=1200, decay_start=7000, decay_end=10000).to_dict()}
            ],
            "points": 1600,
        },
    ),
    "gpt3-125m, x in tokens": (
        "/api/plot",
        {"layers": [{"spec": "gpt3-125m"}], "x": "tokens", "points": 1600},
    ),
    "8 presets overlaid, x in %": (
        "/api/plot",
        {"layers": [{"spec": p} for p in PRESETS8], "x": "percent", "points": 1600},
    ),
    "1e15-step range": (
        "/api/plot",
        {
            "layers": [{"spec": "warmup(1000, cosine(1.0, 0.0, 999999999999000))"}],
            "start": 0,
            "end": 10**15,
            "points": 1600,
        },
    ),
    "1000 phases (the limit)": ("/api/plot", {"layers": [{"spec": f"join({PHASES})"}], "points": 1600}),
    "LR at a step, 2 schedules": (
        "/api/at",
        {"layers": [{"spec": "gpt3-125m"}, {"spec": "bert-base"}], "step": 5000},
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    client = TestClient(create_app())
    times: dict[str, list[float]] = {name: [] for name in CASES}
    cold: dict[str, list[float]] = {name: [] for name in CASES}
    points: dict[str, int] = {}
    for name, (path, body) in CASES.items():
        for _ in range(args.warmup):
            response = client.post(path, json=body)
            assert response.status_code == 200, (name, response.text)
        data = response.json()
        points[name] = sum(len(layer["steps"]) for layer in data.get("layers", [])) or len(
            data.get("results", [])
        )
    for _ in range(args.repeat):
        for name, (path, body) in CASES.items():
            _summary.cache_clear()
            began = time.perf_counter()
            response = client.post(path, json=body)
            cold[name].append(time.perf_counter() - began)
            began = time.perf_counter()
            response = client.post(path, json=body)
            times[name].append(time.perf_counter() - began)
            assert response.status_code == 200
    print(f"Python {platform.python_version()}, {platform.machine()}, {args.repeat} rounds")
    print("| request | cold median | cold p90 | warm median | warm p90 | points |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in CASES:
        cells = []
        for samples in (sorted(cold[name]), sorted(times[name])):
            p90 = samples[min(len(samples) - 1, int(0.9 * len(samples)))]
            cells += [f"{1e3 * statistics.median(samples):.1f} ms", f"{1e3 * p90:.1f} ms"]
        print(f"| {name} | {' | '.join(cells)} | {points[name]} |")


if __name__ == "__main__":
    main()
