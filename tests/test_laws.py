"""Loss-curve laws (lrlab.fit.laws): the formulas against direct loops over the papers'
definitions, the published parameters against the published errors, recovery of a law's
own curves, the validation target on the published curves, bad input, and the CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy")

from lrlab.cli import main
from lrlab.fit import laws
from lrlab.fit.laws import (
    PARAMS,
    Curve,
    LawFitError,
    errors,
    evaluate,
    fit_law,
    law_loss,
    read_curve,
)

DATA = Path(__file__).parent / "data" / "multipowerlaw"
FIT = ("cosine_24000", "constant_24000", "wsdcon_9")
HELD_OUT = ("cosine_72000", "constant_72000", "wsdcon_3", "wsdcon_18", "wsd_20000_24000",
            "wsdld_20000_24000")
#: the paper repository's README, 25M model: L0, A, alpha, B, C, beta, gamma
PAPER_25M = (3.040, 0.525, 0.508, 363.788, 2.066, 0.583, 0.641)


def published_schedule(name: str) -> str:
    """The runs' schedules as the data's README describes them."""
    warm = "warmup(2159, {})"
    kind, _, rest = name.partition("_")
    return {
        "cosine": lambda: warm.format(
            f"join(constant(3e-4, 1), cosine(3e-4, 3e-5, {int(rest or 0) - 2160}))"),
        "constant": lambda: warm.format("constant(3e-4)"),
        "wsdcon": lambda: warm.format(f"join(constant(3e-4, 5841), constant({rest}e-5))"),
        "wsdld": lambda: warm.format("join(constant(3e-4, 17841), linear(3e-4, 3e-5, 4000))"),
        "wsd": lambda: warm.format("join(constant(3e-4, 17841), geometric(3e-4, 3e-5, 4000))"),
    }[kind]()


def published(name: str, size: str = "25m") -> Curve:
    rows = list(csv.DictReader((DATA / size / f"{name}.csv").open()))
    steps = np.array([int(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    keep = steps != 24000
    return Curve.from_schedule(published_schedule(name), steps[keep], loss[keep], name)


# --- the formulas, against loops written from the papers ----------------------------------

def naive_multipower(p: dict[str, float], eta: np.ndarray, t: int) -> float:
    """Luo et al. eq. 4 summed term by term (warmup included in the loss-drop sum, as the
    authors' code does)."""
    s1 = sum(eta[: t + 1])
    ld = 0.0
    for k in range(1, t + 1):
        s_k = sum(eta[k: t + 1])
        x = eta[k] ** (-p["gamma"]) * s_k
        ld += (eta[k - 1] - eta[k]) * (1 - (p["C"] * x + 1) ** (-p["beta"]))
    return p["L0"] + p["A"] * s1 ** (-p["alpha"]) - p["B"] * ld


def naive_tissue(p: dict[str, float], eta: np.ndarray, t: int, lam: float = 0.999) -> float:
    """Tissue et al. eq. 1 with the momentum started at the end of warmup."""
    w = int(np.argmax(eta))
    m, s2 = 0.0, 0.0
    for i in range(w + 1, t + 1):
        m = lam * m + (eta[i - 1] - eta[i])
        s2 += m
    return p["L0"] + p["A"] * sum(eta[: t + 1]) ** (-p["alpha"]) - p["C"] * s2


def test_multipower_matches_the_formula_term_by_term():
    spec = "warmup(20, join(constant(1e-3, 40), cosine(1e-3, 1e-4, 100), constant(5e-5)))"
    eta = np.array(lrlab_values(spec, 220))
    params = {"L0": 2.0, "A": 0.7, "alpha": 0.4, "B": 300.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}
    at = np.array([5, 20, 59, 60, 61, 100, 159, 160, 219])
    got = law_loss("multipower", params, Curve(eta, at))
    want = [naive_multipower(params, eta, int(t)) for t in at]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_tissue_matches_the_formula_term_by_term():
    eta = np.array(lrlab_values("warmup(10, join(constant(1e-3, 50), linear(1e-3, 0, 60)))", 150))
    params = {"L0": 2.0, "A": 0.7, "alpha": 0.4, "C": 1.5}
    at = np.arange(3, 150, 7)
    got = law_loss("tissue", params, Curve(eta, at))
    want = [naive_tissue(params, eta, int(t)) for t in at]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_decay_to_zero_gives_g_equal_one():
    """eta_k = 0 makes eta_k^-gamma infinite: G = 1, not NaN."""
    eta = np.array([0.0, 1e-3, 1e-3, 5e-4, 0.0, 0.0])
    params = {"L0": 1.0, "A": 0.5, "alpha": 0.5, "B": 10.0, "C": 1.0, "beta": 0.5, "gamma": 0.5}
    got = law_loss("multipower", params, Curve(eta, np.array([1, 3, 4, 5])))
    assert np.all(np.isfinite(got))
    # at t=5: the warmup rise at k=1 (gap -1e-3), the drop at k=3 (5e-4), and the drop to 0
    # at k=4 (5e-4), which counts in full
    s1 = eta.sum()
    x1 = 1e-3 ** -0.5 * 2.5e-3
    x3 = 5e-4 ** -0.5 * 5e-4
    drop = -1e-3 * (1 - (1 + x1) ** -0.5) + 5e-4 * (1 - (1 + x3) ** -0.5) + 5e-4 * 1.0
    want5 = 1.0 + 0.5 * s1 ** -0.5 - 10.0 * drop
    assert got[-1] == pytest.approx(want5, rel=1e-12)


def test_blocked_loss_drop_agrees_with_the_exact_sum():
    """Far steps are summed in blocks (speed); on a 72000-step cosine the exact sum agrees."""
    curve = published("cosine_24000")
    theta = np.array(PAPER_25M)
    fast, _ = laws._predict_prepared("multipower", theta, laws._prepare(curve))
    exact, _ = laws._predict_prepared("multipower", theta, laws._prepare(curve, exact=True))
    np.testing.assert_allclose(fast, exact, rtol=2e-6)


def test_objective_gradient_matches_finite_differences():
    curve = published("wsdcon_9")
    fn = laws._objective("multipower", [laws._prepare(curve)], [curve.loss])
    x = np.array(PAPER_25M) * np.array([0.99, 1.02, 1.01, 1.1, 0.9, 1.05, 0.97])
    _, grad = fn(x)
    for i in range(7):
        h = 1e-6 * abs(x[i])
        e = np.zeros(7)
        e[i] = h
        numeric = (fn(x + e)[0] - fn(x - e)[0]) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-12)


def test_published_parameters_reproduce_the_published_errors():
    """The paper's fitted 25M parameters, run through our law on the six held-out curves,
    give the paper's R^2 (0.9988) and mean relative error (0.110%) within a little."""
    params = dict(zip(PARAMS["multipower"], PAPER_25M))
    scores = [errors(law_loss("multipower", params, c), c.loss) for c in map(published, HELD_OUT)]
    assert np.mean([s["r2"] for s in scores]) > 0.998
    assert np.mean([s["mean_rel_error"] for s in scores]) < 0.0013


# --- fitting ----------------------------------------------------------------------------

def lrlab_values(spec: str, n: int) -> list[float]:
    import lrlab

    return [float(v) for v in lrlab.parse(spec).values(np.arange(n))]


def synthetic(law: str, params: dict[str, float], spec: str, steps: int = 1500, every: int = 25) -> Curve:
    eta = np.array(lrlab_values(spec, steps))
    at = np.arange(every, steps, every)
    return Curve(eta, at, law_loss(law, params, Curve(eta, at)), spec)


SYNTH_FIT = ("warmup(100, cosine(1e-3, 1e-4, 1400))", "warmup(100, constant(1e-3))",
             "warmup(100, join(constant(1e-3, 600), constant(3e-4)))")
SYNTH_TEST = ("wsd(1e-3, 1500, warmup=100)", "warmup(100, linear(1e-3, 0, 1400))")


@pytest.mark.parametrize("law,params", [
    ("tissue", {"L0": 2.5, "A": 0.8, "alpha": 0.5, "C": 0.6}),
    ("multipower", {"L0": 2.5, "A": 0.8, "alpha": 0.5, "B": 300.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}),
])
def test_a_law_fitted_to_its_own_curves_predicts_unseen_schedules(law, params):
    fit = fit_law(law, [synthetic(law, params, s) for s in SYNTH_FIT], full_starts=1)
    assert all(math.isfinite(v) for v in fit.params.values())
    held = evaluate(fit, [synthetic(law, params, s) for s in SYNTH_TEST])
    assert held["mean_rel_error"] < 5e-4
    assert held["r2"] > 0.999


def test_published_validation_25m_meets_the_target():
    """Fit on cosine_24000, constant_24000, wsdcon_9 (25M) and predict the other six: the
    issue's target is a mean relative error within 1.5x of the paper's 0.110% and R^2 >= 0.995."""
    fit = fit_law("multipower", [published(n) for n in FIT], full_starts=1)
    held = evaluate(fit, [published(n) for n in HELD_OUT])
    assert held["r2"] >= 0.995
    assert held["mean_rel_error"] <= 1.5 * 0.00110


def test_a_fit_that_fails_says_so(monkeypatch):
    """An optimizer that ends on NaN parameters gives LawFitError, not NaN presented as a fit."""
    import scipy.optimize

    class Result:
        def __init__(self, n):
            self.x = np.full(n, np.nan)
            self.fun = float("nan")
            self.success = False
            self.message = "broken"

    monkeypatch.setattr(scipy.optimize, "minimize", lambda fn, x0, **kw: Result(len(x0)))
    with pytest.raises(LawFitError, match="did not fit"):
        fit_law("tissue", [synthetic("tissue", {"L0": 2.5, "A": 0.8, "alpha": 0.5, "C": 0.6}, SYNTH_FIT[0])])


# --- bad input ------------------------------------------------------------------------------

def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text,match", [
    ("step,lr\n0,1\n1,1\n", "missing column.*loss"),
    ("step,lr,loss\n0,0.1,3\n1,abc,2.9\n", "line 3: lr must be a number; got 'abc'"),
    ("step,lr,loss\n0,0.1,3\n5,0.1,2.9\n5,0.1,2.8\n", "duplicate step 5"),
    ("step,lr,loss\n0,0.1,3\n5,0.1,2.9\n3,0.1,2.8\n", "decreasing step 3"),
    ("step,lr,loss\n0,0.1,3\n", "at least 2 rows"),
    ("", "empty"),
    ("step,lr,loss\n0,0.1,3\n1,0.1,nan\n", "loss must be finite"),
    ("step,lr,loss\n0,0.1,3\n1,-0.1,2\n", "finite and >= 0"),
    ("step,lr,loss\n0,0.1,3\n1,0.1,-2\n", "finite and > 0"),
])
def test_bad_curves_are_refused_with_the_reason(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_curve(write(tmp_path / "c.csv", text))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot read curve"):
        read_curve(tmp_path / "nope.csv")


def test_a_log_with_blank_losses_gives_the_lr_of_every_step(tmp_path):
    path = write(tmp_path / "c.csv", "step,lr,loss\n0,0,\n1,0.5,\n2,1.0,3.0\n3,1.0,\n4,1.0,2.5\n")
    curve = read_curve(path)
    assert curve.steps.tolist() == [2, 4]
    assert curve.lrs.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]


def test_a_sparse_log_is_interpolated_and_warmed_up_from_zero():
    curve = Curve.from_log([100, 200, 300], [1.0, 1.0, 0.5], [3.0, 2.8, 2.7])
    assert curve.lrs[0] == 0.0 and curve.lrs[50] == pytest.approx(0.5)
    assert curve.lrs[250] == pytest.approx(0.75)


def test_fitting_refuses_too_few_points_a_zero_lr_and_an_unknown_law():
    few = Curve(np.linspace(1e-3, 5e-4, 10), np.arange(1, 6), np.linspace(3, 2.5, 5))
    with pytest.raises(ValueError, match="need at least 8 logged losses"):
        fit_law("multipower", [few])
    with pytest.raises(ValueError, match="law must be one of multipower, tissue; got 'power'"):
        fit_law("power", [few])
    with pytest.raises(ValueError, match="every learning rate is 0"):
        Curve(np.zeros(10), np.arange(1, 6), np.linspace(3, 2.5, 5))
    with pytest.raises(ValueError, match="no losses to fit"):
        fit_law("tissue", [Curve(np.full(10, 1e-3), np.arange(1, 6))])


def test_constant_lr_curves_cannot_identify_the_annealing_term():
    flat = synthetic("tissue", {"L0": 2.5, "A": 0.8, "alpha": 0.5, "C": 0.6}, SYNTH_FIT[1])
    with pytest.raises(ValueError, match="LR never changes after warmup"):
        fit_law("multipower", [flat, flat])


def test_after_drops_early_losses_and_keeps_the_lrs():
    c = synthetic("tissue", {"L0": 2.5, "A": 0.8, "alpha": 0.5, "C": 0.6}, SYNTH_FIT[0])
    late = c.after(500)
    assert late.steps[0] == 500 and np.array_equal(late.lrs, c.lrs)
    assert late.loss.tolist() == c.loss[c.steps >= 500].tolist()
    with pytest.raises(ValueError, match="no logged loss at or after step 5000"):
        c.after(5000)


# --- the command line -------------------------------------------------------------------------

def curve_csv(path: Path, curve: Curve) -> str:
    rows = ["step,lr,loss"]
    logged = dict(zip(curve.steps.tolist(), curve.loss.tolist()))
    for t, lr in enumerate(curve.lrs.tolist()):
        rows.append(f"{t},{lr!r},{logged.get(t, '')!r}" if t in logged else f"{t},{lr!r},")
    path.write_text("\n".join(rows) + "\n")
    return str(path)


TISSUE = {"L0": 2.5, "A": 0.8, "alpha": 0.5, "C": 0.6}


def tissue_fits(tmp_path: Path) -> list[str]:
    return [curve_csv(tmp_path / f"f{i}.csv", synthetic("tissue", TISSUE, spec))
            for i, spec in enumerate(SYNTH_FIT)]


def test_cli_predict_json_scores_a_csv_target(tmp_path, capsys):
    fits = tissue_fits(tmp_path)
    target = curve_csv(tmp_path / "t.csv", synthetic("tissue", TISSUE, SYNTH_TEST[0]))
    assert main(["predict", "--law", "tissue", "--fit", *fits, "--target", target, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["params"]) == {"L0", "A", "alpha", "C"}
    assert out["r2"] > 0.999 and out["mean_rel_error"] < 1e-3 and out["max_rel_error"] < 5e-3
    assert len(out["prediction"]["step"]) == len(out["prediction"]["loss"]) == 59


def test_cli_predict_a_schedule_target(tmp_path, capsys):
    fits = tissue_fits(tmp_path)
    assert main(["predict", "--law", "tissue", "--fit", *fits, "--target", SYNTH_TEST[1], "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["r2"] is None and out["mean_rel_error"] is None
    want = law_loss("tissue", TISSUE, Curve.from_schedule(SYNTH_TEST[1], out["prediction"]["step"]))
    np.testing.assert_allclose(out["prediction"]["loss"], want, rtol=1e-3)


@pytest.mark.parametrize("argv,match", [
    (["predict", "--law", "tissue", "--fit", "NO.csv", "--target", "cosine(1, 0, 10)"], "cannot read curve"),
    (["predict", "--law", "cubic", "--fit", "a.csv", "--target", "b.csv"], "invalid choice: 'cubic'"),
    (["predict", "--law", "tissue", "--fit", "FIT", "--target", "cosine(1, 0"], "neither a CSV file"),
    (["predict", "--law", "tissue", "--fit", "FIT", "--target", "constant(1e-3)"], "--steps is required"),
    (["bound", "constant(1e-3)"], "--steps is required"),
    (["bound", "cosine(1, 0, 10)", "--tuned-peak", "-1"], "expected a positive number"),
])
def test_cli_errors_exit_2_with_the_reason(tmp_path, capsys, argv, match):
    fit = curve_csv(tmp_path / "f.csv", synthetic("tissue", TISSUE, SYNTH_FIT[0]))
    argv = [fit if a == "FIT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrlab: error:") or "lrlab: error:" in err
    assert match in err


def test_a_long_log_of_every_step_fits_and_predicts_in_bounded_memory():
    """100k steps with the loss logged at every step: the fit thins the points, prediction
    runs in chunks, and both agree with the law."""
    params = {"L0": 2.5, "A": 0.8, "alpha": 0.5, "C": 0.6}
    long = [synthetic("tissue", params, s.replace("1400", "99900").replace("600", "40000"), steps=100_000,
                      every=1) for s in SYNTH_FIT]
    fit = fit_law("tissue", long)
    held = Curve.from_schedule("wsd(1e-3, 100000, warmup=100)", np.arange(1, 100_000, 71))
    pred = fit.predict(held)
    np.testing.assert_allclose(pred, law_loss("tissue", params, held), rtol=1e-4)
    mp = {"L0": 2.5, "A": 0.8, "alpha": 0.5, "B": 300.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}
    fast = law_loss("multipower", mp, held)
    coarse = Curve(held.lrs, held.steps[::10])
    theta = np.array(list(mp.values()))
    exact, _ = laws._predict_prepared("multipower", theta, laws._prepare(coarse, exact=True))
    np.testing.assert_allclose(fast[::10], exact, rtol=1e-6)


def test_a_target_csv_without_losses_is_predicted(tmp_path, capsys):
    target = tmp_path / "lr_only.csv"
    target.write_text("\ufeffstep,lr\n" + "".join(f"{t},{v!r}\n" for t, v in
                                                enumerate(lrlab_values(SYNTH_TEST[0], 1500))))
    with pytest.raises(ValueError, match="missing column"):
        read_curve(target)
    assert main(["predict", "--law", "tissue", "--fit", *tissue_fits(tmp_path), "--target", str(target),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["r2"] is None and out["prediction"]["step"] == list(range(1, 1500))  # S1(0) = 0
    want = law_loss("tissue", TISSUE, Curve.from_schedule(SYNTH_TEST[0], range(1, 1500)))
    np.testing.assert_allclose(out["prediction"]["loss"], want, rtol=1e-3)


def test_steps_before_any_lr_are_skipped_by_the_fit_and_refused_by_predict():
    params = {"L0": 2.5, "A": 0.8, "alpha": 0.5, "C": 0.6}
    curves = [synthetic("tissue", params, spec, every=25) for spec in SYNTH_FIT]
    with_zero = [Curve(c.lrs, np.concatenate([[0], c.steps]), np.concatenate([[9.0], c.loss]), c.name)
                 for c in curves]
    assert fit_law("tissue", with_zero).params == pytest.approx(fit_law("tissue", curves).params)
    fit = fit_law("tissue", curves)
    with pytest.raises(ValueError, match="undefined at step 0"):
        fit.predict(SYNTH_TEST[0], steps=range(0, 1500, 10))
