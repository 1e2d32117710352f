"""Schedule optimization under a fitted law (lrlab.fit.optimize) and ``lrlab optimize``."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("scipy")

import lrlab
from lrlab.cli import main
from lrlab.fit.laws import PARAMS, LawFit
from lrlab.fit.optimize import optimize_schedule

#: the multi-power law fitted by Luo et al. to their 25M model (their repository's README)
PAPER_25M = LawFit("multipower", dict(zip(PARAMS["multipower"], (3.040, 0.525, 0.508, 363.788, 2.066,
                                                                 0.583, 0.641))), 0.0, True, "paper", 0)


def test_optimized_schedule_under_the_published_law_is_wsd_like_and_beats_cosine_and_wsd():
    """Luo et al. (section 5) find the law's optimum close to WSD: flat, then a late decay."""
    result = optimize_schedule(PAPER_25M, steps=24000, peak=3e-4, warmup=2159)
    sched = lrlab.parse(result.spec)
    lrs = sched.values(np.arange(24000))
    assert lrs[0] == 0.0 and lrs[2159] == pytest.approx(3e-4)
    assert np.all(np.diff(lrs[2159:]) <= 1e-15)               # never increases after warmup
    assert lrs[18000] == pytest.approx(3e-4)                    # still at the peak at 75%
    assert lrs[-1] < 0.1 * 3e-4                                  # decayed by the end
    assert result.loss <= min(result.baselines.values())
    cos, wsd = result.baselines.values()
    assert wsd < cos                                             # the law prefers WSD to cosine


def test_optimize_refuses_bad_input():
    for kwargs, match in [({"steps": 2, "peak": 1e-3}, "steps must be an integer >= 4"),
                          ({"steps": 100, "peak": -1.0}, "peak must be a positive number"),
                          ({"steps": 100, "peak": 1e-3, "warmup": 99}, "warmup must be an integer"),
                          ({"steps": 100, "peak": 1e-3, "floor": 1e-3}, "floor must be in")]:
        with pytest.raises(ValueError, match=match):
            optimize_schedule(PAPER_25M, **kwargs)


def test_cli_optimize_json(tmp_path, capsys):
    from test_laws import tissue_fits

    fits = tissue_fits(tmp_path)
    assert main(["optimize", "--law", "tissue", "--fit", *fits, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 1500 and set(out["params"]) == {"L0", "A", "alpha", "C"}
    sched = lrlab.parse(out["spec"])
    lrs = sched.values(np.arange(1500))
    assert lrs[100] == pytest.approx(1e-3) and np.all(np.diff(lrs[100:]) <= 1e-15)
    assert out["predicted_final_loss"] <= min(b["predicted_final_loss"] for b in out["baselines"]) + 1e-12
    assert [b["spec"].split("(")[0] for b in out["baselines"]] == ["warmup", "wsd"]
