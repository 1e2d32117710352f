"""Copy the tutorials' figures into the docs, small.

    python scripts/tutorial_figures.py RUNS_DIR

``RUNS_DIR`` holds one folder per tutorial, as the scripts write them with ``--out
RUNS_DIR/<NN>`` (``python examples/01_why_a_schedule.py --out RUNS_DIR/01``). The figures named in
``FIGURES`` are reduced to a 64-colour palette (Pillow) and written to
``docs/img/tutorials/<NN>-<name>.png``; each must stay under ``LIMIT`` bytes, since they are
committed. docs/tutorials.md shows them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "img" / "tutorials"
LIMIT = 60_000
#: tutorial number -> the figures of its run folder shown in the docs
FIGURES: dict[str, list[str]] = {
    "01": ["five_schedules.png", "lesson_seeds/loss.png", "charlm/loss.png"],
    "02": ["lesson_seeds/sensitivity.png", "circle/sensitivity.png"],
    "03": ["warmup_sweep/loss.png", "sharpness.png"],
    "04": ["range_test.png", "peak_grid/loss.png"],
    "05": ["branches.png", "wsd_vs_cosine.png"],
    "06": ["guard_losses.png", "surgeon.png"],
    "07": ["identified.png", "predicted.png"],
    "08": ["moved_vs_advisor.png"],
}


def name(number: str, figure: str) -> str:
    """``docs/img/tutorials`` file name of a run's figure: ``01-lesson_seeds-loss.png``."""
    return f"{number}-{figure.replace('/', '-')}"


def shrink(source: Path, target: Path) -> int:
    from PIL import Image

    with Image.open(source) as image:
        small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        small.save(target, optimize=True)
    return target.stat().st_size


def main(runs: Path, only: list[str] | None = None) -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    status = 0
    for number, figures in FIGURES.items():
        if only and number not in only:
            continue
        for figure in figures:
            source = runs / number / figure
            if not source.exists():
                print(f"missing: {source}", file=sys.stderr)
                status = 1
                continue
            size = shrink(source, TARGET / name(number, figure))
            print(f"{TARGET / name(number, figure)}: {size:,} bytes")
            if size > LIMIT:
                print(
                    f"too large: {name(number, figure)} is {size:,} bytes (limit {LIMIT:,})", file=sys.stderr
                )
                status = 1
    return status


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python scripts/tutorial_figures.py RUNS_DIR [NN ...]")
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
