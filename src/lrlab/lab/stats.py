"""Small, explicit statistics for comparing runs over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, dof: float) -> float:
    """P(|T| > |t|) for Student's t with ``dof`` (real) degrees of freedom:
    ``I_{dof/(dof+t^2)}(dof/2, 1/2)``."""
    return _betainc(dof / 2.0, 0.5, dof / (dof + t * t))


def t95(dof: float) -> float:
    """The two-sided 95% quantile of Student's t for real ``dof > 0`` (bisection on the
    exact tail probability)."""
    if not dof > 0:
        return math.inf
    low, high = 0.0, 1.0
    while t_two_sided_p(high, dof) > 0.05:
        high *= 2.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if t_two_sided_p(mid, dof) > 0.05 else (low, mid)
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation and count of finite values (NaN if none)."""

    mean: float
    std: float
    n: int


def spread(values: Sequence[float | None]) -> Spread:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return Spread(math.nan, math.nan, 0)
    mean = sum(finite) / len(finite)
    if len(finite) == 1:
        return Spread(mean, 0.0, 1)
    var = sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)
    return Spread(mean, math.sqrt(var), len(finite))


def differ(a: Spread, b: Spread) -> bool:
    """Welch's t-test at the 5% level: True if the means differ beyond seed noise.

    For unpaired samples. The lab compares arms paired by seed (:func:`paired_difference`),
    since arms with the same seed share the initialisation and the data order.

    ``|mean_a - mean_b| > t_0.975(dof) * sqrt(sem_a^2 + sem_b^2)`` with the
    Welch-Satterthwaite degrees of freedom. With fewer than two seeds on either side nothing
    can be told apart from noise, so the answer is False.
    """
    if a.n < 2 or b.n < 2:
        return False
    va, vb = a.std**2 / a.n, b.std**2 / b.n
    if va + vb == 0:
        return a.mean != b.mean
    dof = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    return abs(a.mean - b.mean) > t95(dof) * math.sqrt(va + vb)


def t_quantile(probability: float, dof: float) -> float:
    """The ``probability`` quantile of Student's t with ``dof`` degrees of freedom, for
    ``probability`` in (0.5, 1): bisection on the exact two-sided tail
    ``P(|T| > q) = 2 (1 - probability)``."""
    if not 0.5 < probability < 1.0:
        raise ValueError(f"probability must be in (0.5, 1); got {probability!r}")
    if not dof > 0:
        return math.inf
    tail = 2.0 * (1.0 - probability)
    low, high = 0.0, 1.0
    while t_two_sided_p(high, dof) > tail:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if t_two_sided_p(mid, dof) > tail else (low, mid)
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Paired:
    """The paired comparison of an arm with the best arm over the seeds both have.

    ``mean_diff`` is the mean of ``arm - best`` per seed, ``ci`` its 95% t-interval,
    ``p`` the two-sided paired t-test p-value (uncorrected), ``n`` the number of pairs.
    ``ci`` and ``p`` are None with fewer than two pairs (no test is possible).
    """

    mean_diff: float | None
    ci: tuple[float, float] | None
    p: float | None
    n: int


def paired_difference(arm: Sequence[float], best: Sequence[float]) -> Paired:
    """Paired t statistics of ``arm[i] - best[i]`` (Student 1908; any statistics text, e.g.
    scipy.stats.ttest_rel and its confidence_interval):

    ``d = mean(d_i)``, ``s = sd(d_i)`` (n - 1), ``CI = d -/+ t_0.975(n - 1) s / sqrt(n)``,
    ``p = P(|T_{n-1}| > |d| / (s / sqrt(n)))``. Pairs with a non-finite member are left out.
    With ``s = 0`` the interval is the point and p is 0 (or 1 when ``d = 0``).
    """
    if len(arm) != len(best):
        raise ValueError(f"paired values must have equal lengths; got {len(arm)} and {len(best)}")
    diffs = [a - b for a, b in zip(arm, best) if math.isfinite(a) and math.isfinite(b)]
    n = len(diffs)
    if n == 0:
        return Paired(None, None, None, 0)
    mean = sum(diffs) / n
    if n == 1:
        return Paired(mean, None, None, 1)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0.0:
        return Paired(mean, (mean, mean), 1.0 if mean == 0.0 else 0.0, n)
    sem = sd / math.sqrt(n)
    half = t_quantile(0.975, n - 1) * sem
    return Paired(mean, (mean - half, mean + half), t_two_sided_p(mean / sem, n - 1), n)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (Holm 1979) of the p-values that are not None:
    sorted ascending, ``p_(i) -> max_{j <= i} min(1, (m - j + 1) p_(j))`` with ``m`` the
    number of p-values; None stays None."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
