"""The plot of every schedule family in the docs, drawn when the site is built.

Used two ways:

* as an MkDocs hook (``hooks:`` in ``mkdocs.yml``): ``on_files`` adds ``img/families/<name>.png``
  for every family to the site, so ``docs/families.md`` shows a plot per family that is
  always drawn from the current code (nothing binary is committed);
* as a script: ``python scripts/docs_plots.py OUT_DIR`` writes the same PNGs to a folder.

``EXAMPLES`` holds one example per family of ``lrlab.FAMILIES``; ``tests/test_docs.py``
fails when a family has no example here or no section in ``docs/families.md``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

#: family -> (text form of the example, steps to draw)
EXAMPLES: dict[str, tuple[str, int]] = {
    "constant": ("constant(1e-3)", 1000),
    "linear": ("linear(1e-3, 1e-4, 1000)", 1000),
    "cosine": ("cosine(1e-3, 1e-4, 1000)", 1000),
    "one_minus_sqrt": ("one_minus_sqrt(1e-3, 0.0, 1000)", 1000),
    "one_minus_square": ("one_minus_square(1e-3, 0.0, 1000)", 1000),
    "polynomial": ("polynomial(1e-3, 0.0, 1000, power=2.0)", 1000),
    "geometric": ("geometric(1e-3, 1e-5, 1000)", 1000),
    "exponential": ("exponential(1e-3, half_life=250)", 1000),
    "step": ("step(1e-3, 0.5, 250)", 1000),
    "multistep": ("multistep(1e-3, [300, 600, 800], gamma=0.1)", 1000),
    "inverse_sqrt": ("warmup(100, inverse_sqrt(1e-3, timescale=100))", 1000),
    "piecewise": ("piecewise([0, 100, 600, 1000], [0.0, 1e-3, 5e-4, 0.0])", 1000),
    "cyclic": ("cyclic(1e-4, 1e-3, 100, mode='triangular2')", 1000),
    "sgdr": ("sgdr(1e-3, 100, mult=2.0, floor=1e-5)", 1000),
    "warmup": ("warmup(100, cosine(1e-3, 1e-4, 900))", 1000),
    "warmup_cosine": ("warmup_cosine(1e-3, 1000, 100, floor=1e-4)", 1000),
    "untuned_warmup": ("untuned_warmup(constant(1e-3), beta2=0.99)", 1000),
    "wsd": ("wsd(1e-3, 1000, warmup=50)", 1000),
    "onecycle": ("onecycle(1e-3, 1000)", 1000),
    "join": ("join(linear(0.0, 1e-3, 100), constant(1e-3, steps=500), cosine(1e-3, 0.0, 400))", 1000),
    "scale": ("scale(cosine(1e-3, 1e-4, 1000), 0.5)", 1000),
    "offset": ("offset(cosine(9e-4, 0.0, 1000), 1e-4)", 1000),
    "add": ("add(cosine(5e-4, 0.0, 1000), constant(5e-4, steps=1000))", 1000),
    "product": ("product(linear(0.1, 1.0, 200), multistep(1e-3, [600], gamma=0.1))", 1000),
    "clamp": ("clamp(exponential(1e-3, 0.995), low=2e-4)", 1000),
    "limit": ("limit(exponential(1e-3, 0.995), 400)", 1000),
    "shift": ("shift(cosine(1e-3, 0.0, 1000), 300)", 1000),
    "quantize": ("quantize(cosine(1e-3, 0.0, 1000), 100)", 1000),
    "repeat": ("repeat(cosine(1e-3, 1e-4, 250))", 1000),
    "one_minus_power": ("one_minus_power(1e-3, 0.0, 1000, power=2.0)", 1100),
    "tanh": ("tanh(1e-3, 1e-5, 1000)", 1100),
    "inverse_time": ("inverse_time(1e-3, 1.0, every=100, staircase=True)", 1000),
    "restarts": ("restarts(cosine(1e-3, 1e-5, 100), mult=2.0, decay=0.7, times=3)", 800),
    "warp": ("warp(cosine(1e-3, 0.0, 1000), 2.0)", 1100),
    "extend": ("extend(polynomial(1e-3, 1e-4, 200, power=2.0))", 1000),
}


def draw(name: str) -> bytes:
    """The PNG of ``EXAMPLES[name]``: LR against step, small (about 10 kB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import lrlab

    spec, steps = EXAMPLES[name]
    schedule = lrlab.parse(spec)
    t = np.arange(steps + 1)
    values = schedule.values(t)
    fig, ax = plt.subplots(figsize=(4.8, 2.0), dpi=80)
    ax.plot(t, values, color="#3f51b5", linewidth=1.6)
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("LR", fontsize=8)
    ax.set_title(spec if len(spec) <= 60 else spec[:57] + "...", fontsize=7, family="monospace")
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def on_files(files, config):  # the MkDocs hook
    from mkdocs.structure.files import File

    for name in EXAMPLES:
        files.append(File.generated(config, f"img/families/{name}.png", content=draw(name)))
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python scripts/docs_plots.py OUT_DIR\n")
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLES:
        (out / f"{name}.png").write_bytes(draw(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
