"""The schedule advisor: from what you know about a run to a schedule, with cited reasons.

``lrlab.recommend(...)`` (and ``lrlab recommend`` on the command line) answers the question
practitioners arrive with, "which schedule, what peak, how much warmup?", in four steps:

1. **The shape** follows the decision flowchart of the schedules lesson (is the horizon
   known? is the compute budget large, small or moderate?) refined by later evidence:

   * horizon unknown, or checkpoints wanted at several budgets: warmup-stable-decay
     (Hagele et al. 2024): hold the peak, branch a 1-sqrt cooldown over the last 20% of
     whatever horizon you stop at;
   * small budget (hours): 1cycle (Smith & Topin 2019), peak from the range test;
   * large budget (days or more), pre-training: warmup + cosine to ``peak / 10``, or
     linear decay to zero (``decay_to_zero``, Bergsma et al. 2025);
   * moderate budget: warmup + cosine annealing to ``peak / 10``;
   * fine-tuning: warmup + linear decay to zero (Devlin et al. 2019; Bergsma et al. 2025).

2. **The warmup** is the larger of what the optimizer needs (Ma & Yarats 2021:
   ``2 / (1 - beta2)`` updates for Adam) and a fraction of the run (1% for long runs,
   3% in between, 5% for short runs and fine-tuning; the lesson's "1-5% of steps").

3. **The peak LR**: yours (``peak``), scaled to a changed batch size (linear for SGD,
   Goyal et al. 2017; square root for Adam, Malladi et al. 2022); else a prior: the Step
   Law of Li et al. 2025 ``eta = 1.79 N^-0.713 D^0.307`` for pre-training with Adam where
   model size ``N`` and tokens ``D`` are known; else a conventional default. A prior is
   flagged as one: confirm it with the range test, ``lrlab find``.

4. **The nearest published preset** (:data:`lrlab.presets.PRESETS`) for comparison.

The result's ``spec`` is a text form in steps that ``lrlab at`` accepts as it is (lengths
in tokens or epochs are resolved against the budget given), or an error naming the flag
that is missing or contradictory.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any

from lrlab.inspect import Summary, summary
from lrlab.presets import PRESETS, Preset
from lrlab.schedules import Schedule, parse
from lrlab.units import Budget, parse_length

__all__ = [
    "ADAM_FAMILY",
    "CITATIONS",
    "OPTIMIZERS",
    "Reason",
    "Recommendation",
    "adam_warmup_steps",
    "recommend",
    "step_law_peak",
]

#: optimizers with Adam's second-moment estimate (warmup 2 / (1 - beta2), square-root batch rule)
ADAM_FAMILY = ("adam", "adamw", "nadam", "radam", "lamb")
#: every optimizer the advisor knows
OPTIMIZERS = (*ADAM_FAMILY, "sgd")

#: key -> (citation, url)
CITATIONS: dict[str, tuple[str, str]] = {
    "flowchart": (
        "Decision flowchart of the 'Learning Rate Schedules and Warmup' lesson (horizon known? "
        "compute budget large, small or moderate?), see docs/which-schedule.md",
        "which-schedule.md",
    ),
    "sgdr": ("Loshchilov & Hutter 2017, 'SGDR: Stochastic Gradient Descent with Warm Restarts' "
             "(cosine annealing)", "https://arxiv.org/abs/1608.03983"),
    "gpt3": ("Brown et al. 2020, 'Language Models are Few-Shot Learners', Appendix B (cosine to 10% "
             "of the peak)", "https://arxiv.org/abs/2005.14165"),
    "bergsma": ("Bergsma et al. 2025, 'Straight to Zero: Why Linearly Decaying the Learning Rate to "
                "Zero Works Best for LLMs'", "https://arxiv.org/abs/2502.15938"),
    "onecycle": ("Smith & Topin 2019, 'Super-Convergence: Very Fast Training of Neural Networks Using "
                 "Large Learning Rates' (1cycle)", "https://arxiv.org/abs/1708.07120"),
    "rangetest": ("Smith 2017, 'Cyclical Learning Rates for Training Neural Networks', section 3.3 "
                  "(the LR range test)", "https://arxiv.org/abs/1506.01186"),
    "hagele": ("Hagele et al. 2024, 'Scaling Laws and Compute-Optimal Training Beyond Fixed Training "
               "Durations' (WSD: 20% cooldown, 1-sqrt)", "https://arxiv.org/abs/2405.18392"),
    "minicpm": ("Hu et al. 2024, 'MiniCPM: Unveiling the Potential of Small Language Models' "
                "(warmup-stable-decay)", "https://arxiv.org/abs/2404.06395"),
    "mayarats": ("Ma & Yarats 2021, 'On the Adequacy of Untuned Warmup for Adaptive Optimization' "
                 "(warmup of 2 / (1 - beta2) updates)", "https://arxiv.org/abs/1910.04209"),
    "goyal": ("Goyal et al. 2017, 'Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour' "
              "(linear scaling rule, gradual warmup, 0.1 x batch / 256)", "https://arxiv.org/abs/1706.02677"),
    "malladi": ("Malladi et al. 2022, 'On the SDEs and Scaling Rules for Adaptive Gradient Algorithms' "
                "(square-root scaling rule for Adam)", "https://arxiv.org/abs/2205.10287"),
    "steplaw": ("Li et al. 2025, 'Predictable Scale: Part I, Step Law - Optimal Hyperparameter Scaling "
                "Law in Large Language Model Pretraining' (eta = 1.79 N^-0.713 D^0.307)",
                "https://arxiv.org/abs/2503.04715"),
    "devlin": ("Devlin et al. 2019, 'BERT', Appendix A.3 (fine-tuning with Adam at 5e-5, 3e-5 or 2e-5) "
               "and its run_classifier.py (warmup over 10% of the steps, then linear decay to 0)",
               "https://arxiv.org/abs/1810.04805"),
    "kingma": ("Kingma & Ba 2015, 'Adam: A Method for Stochastic Optimization' (default step size "
               "1e-3)", "https://arxiv.org/abs/1412.6980"),
    "fastai": ("Howard & Gugger 2020, 'fastai: A Layered API for Deep Learning' (fine_tune: 1cycle)",
               "https://arxiv.org/abs/2002.04688"),
    "presets": ("lrlab presets (docs/presets.md): each with its own source", "presets.md"),
}

#: Step Law's coefficients and the scale of its largest check (1B parameters, 100B tokens)
STEP_LAW = (1.79, -0.713, 0.307)
STEP_LAW_RANGE = {"params": 1e9, "tokens": 1e11}

#: compute-budget thresholds in hours: below SMALL is "small", from LARGE on "large"
SMALL_HOURS = 12.0
LARGE_HOURS = 48.0
#: without a compute budget, the run length decides: steps below / from these
SHORT_RUN = 2_000
LONG_RUN = 20_000


@dataclasses.dataclass(frozen=True)
class Reason:
    """One choice the advisor made: what (``choice``), why (``reason``), on whose evidence
    (``citation``, ``url``)."""

    choice: str
    reason: str
    citation: str
    url: str

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """What :func:`recommend` returns.

    ``spec``: the schedule in the text form, lengths in steps (``lrlab at`` accepts it);
    ``schedule``: the same, parsed; ``reasons``: one :class:`Reason` per choice;
    ``preset``: the nearest published preset (``name, spec, citation, url, why``) or None;
    ``peak``: the recommended peak LR and ``peak_is_prior``: whether it is a prior to
    confirm with the range test; ``warmup_steps``; ``total_steps`` (None if unknown);
    ``budget``: ``small``, ``moderate`` or ``large``.
    """

    spec: str
    schedule: Schedule
    reasons: tuple[Reason, ...]
    preset: dict[str, Any] | None
    peak: float
    peak_is_prior: bool
    warmup_steps: int
    total_steps: int | None
    budget: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``spec``, ``reasons`` (each ``choice, reason, citation, url``),
        ``preset``, and ``peak, peak_is_prior, warmup_steps, total_steps, budget``."""
        return {
            "spec": self.spec,
            "reasons": [r.to_dict() for r in self.reasons],
            "preset": self.preset,
            "peak": self.peak,
            "peak_is_prior": self.peak_is_prior,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "budget": self.budget,
        }

    def __str__(self) -> str:
        lines = [self.spec, ""]
        for i, r in enumerate(self.reasons, 1):
            lines.append(f"{i}. {r.choice}: {r.reason}")
            lines.append(f"   [{r.citation}; {r.url}]")
        if self.preset is not None:
            lines += ["", f"nearest preset: {self.preset['name']}  {self.preset['spec']}",
                      f"   {self.preset['why']} [{self.preset['citation']}]"]
        return "\n".join(lines)


def _reason(choice: str, text: str, key: str) -> Reason:
    citation, url = CITATIONS[key]
    return Reason(choice, text, citation, url)


# --- the formulas -----------------------------------------------------------------------------


def adam_warmup_steps(beta2: float) -> int:
    """Ma & Yarats 2021's rule of thumb: warm Adam up over ``2 / (1 - beta2)`` updates, the
    time its second-moment estimate (an exponential average with factor ``beta2``) needs to
    become reliable. ``beta2=0.999`` gives 2000 updates, ``0.95`` gives 40.
    """
    _check_beta("beta2", beta2)
    return math.ceil(2.0 / (1.0 - beta2) - 1e-9)


def step_law_peak(params: float, tokens: float) -> float:
    """The Step Law prior (Li et al. 2025): the optimal peak LR of AdamW pre-training,
    ``eta = 1.79 * N^-0.713 * D^0.307`` with ``N`` the model's (non-embedding) parameters
    and ``D`` the training tokens. Fitted on dense and MoE transformers trained with AdamW
    (its largest check: 1B parameters, 100B tokens); beyond that it is an extrapolation.
    """
    if not (params > 0 and math.isfinite(params)):
        raise ValueError(f"params (--params) must be a positive number of parameters; got {params!r}")
    if not (tokens > 0 and math.isfinite(tokens)):
        raise ValueError(f"tokens must be a positive number of training tokens; got {tokens!r}")
    a, b, c = STEP_LAW
    return a * params ** b * tokens ** c


# --- reading the inputs -----------------------------------------------------------------------


def _check_beta(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} (--{name}) must be a number in [0, 1); got {value!r}")
    return float(value)


def _positive(name: str, flag: str, value: Any) -> float | None:
    """A positive number, or a string such as '7B' or '0.5M'."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            quantity = parse_length(value, name)
        except ValueError:
            quantity = None
        if quantity is None or quantity.unit != "steps":
            raise ValueError(f"{name} ({flag}) must be a positive number such as 7B or 524288; got {value!r}")
        value = quantity.amount
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} ({flag}) must be a positive finite number; got {value!r}")
    return float(value)


_HOURS = {"m": 1 / 60, "min": 1 / 60, "minutes": 1 / 60, "h": 1.0, "hr": 1.0, "hours": 1.0,
          "d": 24.0, "days": 24.0, "w": 168.0, "weeks": 168.0}


def _hours(value: Any) -> float | None:
    """A compute budget: a number of hours, or '90min', '6h', '3d', '2w'."""
    if value is None:
        return None
    expected = "a duration such as 6h, 3d or 2w (or a number of hours)"
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*", value.lower())
        if match is None or (match.group(2) or "h") not in _HOURS:
            raise ValueError(f"compute_budget (--compute-budget) must be {expected}; got {value!r}")
        hours = float(match.group(1)) * _HOURS[match.group(2) or "h"]
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        hours = float(value)
    else:
        raise ValueError(f"compute_budget (--compute-budget) must be {expected}; got {value!r}")
    if not (hours > 0 and math.isfinite(hours)):
        raise ValueError(f"compute_budget (--compute-budget) must be positive; got {value!r}")
    return hours


def _total(total_steps: Any, total_tokens: Any, tokens_per_step: float | None,
           steps_per_epoch: float | None) -> tuple[int | None, float | None]:
    """(total steps or None if unknown, total tokens or None)."""
    if total_steps is not None and total_tokens is not None:
        raise ValueError("give the horizon once: total_steps (--total-steps) or total_tokens "
                         f"(--total-tokens), not both; got {total_steps!r} and {total_tokens!r}")
    if total_steps is None and total_tokens is None:
        raise ValueError("the horizon is required: give total_steps (--total-steps: a number of steps, "
                         "a length such as '300B tokens' or '90ep', or 'unknown') or total_tokens "
                         "(--total-tokens)")
    flag = "--total-steps" if total_steps is not None else "--total-tokens"
    name = "total_steps" if total_steps is not None else "total_tokens"
    value = total_steps if total_steps is not None else total_tokens
    if isinstance(value, str) and value.strip().lower() == "unknown":
        return None, None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} ({flag}) must be a number, a length such as '300B tokens', or "
                         f"'unknown'; got {value!r}")
    if isinstance(value, str):
        try:
            quantity = parse_length(value, name)
        except ValueError as error:
            raise ValueError(f"{name} ({flag}) must be a number, a length such as '300B tokens', or "
                             f"'unknown'; got {value!r} ({error})") from None
        amount, unit = quantity.amount, quantity.unit
    else:
        amount, unit = float(value), "steps"
    if total_tokens is not None and unit == "steps":
        unit = "tokens"
    if unit not in ("steps", "tokens", "epochs"):
        raise ValueError(f"{name} ({flag}) must be steps, tokens or epochs; got {value!r}")
    if not (amount > 0 and math.isfinite(amount)):
        raise ValueError(f"{name} ({flag}) must be positive; got {value!r}")
    tokens = None
    if unit == "tokens":
        if tokens_per_step is None:
            raise ValueError(f"{name} ({flag}) {value!r} is in tokens: give tokens_per_step "
                             "(--tokens-per-step) to turn it into steps")
        tokens, steps = amount, amount / tokens_per_step
    elif unit == "epochs":
        if steps_per_epoch is None:
            raise ValueError(f"{name} ({flag}) {value!r} is in epochs: give steps_per_epoch "
                             "(--steps-per-epoch) to turn it into steps")
        steps = amount * steps_per_epoch
    else:
        steps = amount
    whole = round(steps)
    if whole < 1:
        raise ValueError(f"{name} ({flag}) {value!r} is {steps:g} steps: a run needs at least 1 step")
    if whole > 10 ** 12:
        raise ValueError(f"{name} ({flag}) {value!r} is {steps:g} steps: at most 1e12 steps")
    if tokens is None and tokens_per_step is not None:
        tokens = whole * tokens_per_step
    return int(whole), tokens


def _category(hours: float | None, total: int | None, finetune: bool) -> tuple[str, str]:
    """(small / moderate / large, why)."""
    if hours is not None:
        if hours < SMALL_HOURS:
            return "small", f"a compute budget of {hours:g} h is small (hours: under {SMALL_HOURS:g} h)"
        if hours >= LARGE_HOURS:
            return "large", (f"a compute budget of {hours:g} h is large (days or weeks: {LARGE_HOURS:g} h "
                             "or more)")
        return "moderate", (f"a compute budget of {hours:g} h is moderate (from {SMALL_HOURS:g} h to "
                            f"{LARGE_HOURS:g} h)")
    if total is None:
        return "large", "the horizon is open"
    if total < SHORT_RUN:
        return "small", f"no compute budget given: {total} steps is a short run (under {SHORT_RUN})"
    if total >= LONG_RUN and not finetune:
        return "large", f"no compute budget given: {total} steps is a long run ({LONG_RUN} or more)"
    return "moderate", f"no compute budget given: {total} steps is a run of moderate length"


def _lr(x: float) -> float:
    """A learning rate rounded to 3 significant digits (a prior has no more)."""
    return float(f"{x:.3g}")


# --- the recommendation -----------------------------------------------------------------------


def recommend(
    total_steps: int | float | str | None = None,
    *,
    total_tokens: float | str | None = None,
    tokens_per_step: float | str | None = None,
    samples_per_step: float | str | None = None,
    steps_per_epoch: float | str | None = None,
    optimizer: str = "adamw",
    beta1: float | None = None,
    beta2: float | None = None,
    finetune: bool = False,
    params: float | str | None = None,
    compute_budget: float | str | None = None,
    batch_scale: float | None = None,
    peak: float | None = None,
    warmup: int | str | None = None,
    checkpoints: bool = False,
    decay_to_zero: bool = False,
) -> Recommendation:
    """Recommend a schedule for a run, with a cited reason for each choice.

    Only the horizon is required: ``total_steps`` (steps, a length such as ``'300B tokens'``
    or ``'90ep'``, or ``'unknown'``) or ``total_tokens``. The rest refines the answer:
    ``tokens_per_step`` / ``samples_per_step`` / ``steps_per_epoch`` (the batch), the
    ``optimizer`` (one of :data:`OPTIMIZERS`) and its ``beta1``/``beta2``, ``finetune``
    (else pre-training), ``params`` (model size, e.g. ``'124M'``), ``compute_budget``
    (hours, or ``'6h'``, ``'3d'``), ``batch_scale`` (your batch over the reference recipe's,
    applied to ``peak``), ``peak`` (a peak LR you trust, e.g. from ``lrlab find``),
    ``warmup`` (steps or ``'2%'``, instead of the advisor's), ``checkpoints`` (usable
    checkpoints at several budgets wanted) and ``decay_to_zero`` (linear decay to zero
    instead of cosine to ``peak / 10``).

    Raises ``ValueError`` naming the parameter (and its command-line flag) for a missing,
    malformed or contradictory input: a warmup as long as the run, an unknown optimizer,
    ``beta2`` outside ``[0, 1)``.

    >>> r = recommend(100_000, optimizer="adamw", beta2=0.95, peak=3e-4)
    >>> r.spec
    'warmup(1000, cosine(0.0003, 3e-05, 99000))'
    """
    # -- read and check every input first
    if not isinstance(optimizer, str) or optimizer.strip().lower() not in OPTIMIZERS:
        raise ValueError(f"optimizer (--optimizer) must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    opt = optimizer.strip().lower()
    adam = opt in ADAM_FAMILY
    if beta1 is not None:
        _check_beta("beta1", beta1)
    if beta2 is not None:
        _check_beta("beta2", beta2)
        if not adam:
            raise ValueError(f"beta2 (--beta2) is Adam's second-moment factor; optimizer {opt!r} has none")
    tps = _positive("tokens_per_step", "--tokens-per-step", tokens_per_step)
    sps = _positive("samples_per_step", "--samples-per-step", samples_per_step)
    spe = _positive("steps_per_epoch", "--steps-per-epoch", steps_per_epoch)
    n_params = _positive("params", "--params", params)
    hours = _hours(compute_budget)
    scale = _positive("batch_scale", "--batch-scale", batch_scale)
    user_peak = _positive("peak", "--peak", peak)
    total, tokens = _total(total_steps, total_tokens, tps, spe)
    switches = (("finetune", finetune), ("checkpoints", checkpoints), ("decay_to_zero", decay_to_zero))
    for flag, value in switches:
        if not isinstance(value, bool):
            raise ValueError(f"{flag} (--{flag.replace('_', '-')}) must be True or False; got {value!r}")
    if decay_to_zero and (total is None or checkpoints):
        raise ValueError("decay_to_zero (--decay-to-zero) needs a known horizon and no --checkpoints: "
                         "a WSD cooldown already ends at 0")
    b2 = beta2 if beta2 is not None else 0.999

    category, why_category = _category(hours, total, finetune)
    tokens_per_param = tokens / n_params if tokens is not None and n_params is not None else None
    shape, reasons = _shape(total, checkpoints, category, why_category, finetune, decay_to_zero,
                            tokens_per_param)

    # -- the warmup
    warm, warm_reasons = _warmup(warmup, total, adam, opt, b2, beta2 is not None, category, finetune,
                                 spe, shape)
    reasons += warm_reasons
    if shape == "wsd" and total is not None and warm + 0.2 * total > total:
        raise ValueError(f"the warmup ({warm} steps) and WSD's 20% cooldown do not fit in the run "
                         f"(--total-steps: {total} steps): shorten --warmup or use a smaller --beta2")

    # -- the peak
    peak_lr, is_prior, peak_reasons = _peak(user_peak, scale, adam, opt, finetune, n_params, tokens,
                                            sps, tps, shape)
    reasons += peak_reasons

    # -- the schedule
    spec = _build(shape, peak_lr, warm, total)
    try:
        schedule = parse(spec)
    except ValueError as error:
        raise ValueError(f"no valid schedule has a peak LR of {peak_lr!r} (--peak, --batch-scale): "
                         f"{error}") from None
    if shape == "onecycle" and not spec.startswith("onecycle"):
        reasons.append(_reason(
            "a linear decay instead of 1cycle", f"{total} steps are too few for 1cycle's rise and "
            "fall: the peak, then a linear decay to 0", "onecycle"))
    preset = _nearest_preset(schedule, n_params)
    if preset is not None:
        reasons.append(_reason(
            f"compare: preset {preset['name']}", f"{preset['why']}; `lrlab show {preset['name']}` shows it",
            "presets"))
    return Recommendation(spec=spec, schedule=schedule, reasons=tuple(reasons), preset=preset,
                          peak=peak_lr, peak_is_prior=is_prior, warmup_steps=warm, total_steps=total,
                          budget=category)


def _shape(total: int | None, checkpoints: bool, category: str, why_category: str, finetune: bool,
           decay_to_zero: bool, tokens_per_param: float | None) -> tuple[str, list[Reason]]:
    """The flowchart, refined: (stable / wsd / onecycle / cosine / linear0, reasons)."""
    reasons: list[Reason] = []
    if total is None:
        shape = "stable"
        reasons.append(_reason(
            "shape: warmup, then a constant peak (the stable phase of WSD)",
            "the horizon is unknown, so no decay can be placed in advance: hold the peak, and when "
            "you decide to stop at step T, branch a cooldown over the last 20% with the 1-sqrt shape "
            "(lrlab.cooldown_from(schedule, 0.8 * T, 0.2 * T)); the flowchart's 'constant LR with "
            "manual decay', made precise by WSD", "hagele"))
        reasons.append(_reason("flowchart", "horizon unknown -> constant LR with manual decay", "flowchart"))
    elif checkpoints:
        shape = "wsd"
        reasons.append(_reason(
            "shape: warmup-stable-decay, 20% cooldown, 1-sqrt",
            "checkpoints at several budgets are wanted: the stable phase is shared, so a cooldown "
            "branched from any stable checkpoint gives a finished model at that budget, matching "
            "cosine runs tuned for each length", "hagele"))
    elif category == "small":
        shape = "onecycle"
        reasons.append(_reason(
            "shape: 1cycle",
            f"{why_category}: 1cycle reaches a good loss in the fewest steps when the horizon is "
            "known and the budget short (super-convergence); its rising phase is the warmup",
            "onecycle"))
        reasons.append(_reason("flowchart", "horizon known, small budget (hours) -> 1cycle, lr_max from "
                               "the LR range test", "flowchart"))
        if finetune:
            reasons.append(_reason("fine-tuning", "fastai fine-tunes with 1cycle as well", "fastai"))
    elif finetune:
        shape = "linear0"
        reasons.append(_reason(
            "shape: warmup, then linear decay to zero",
            f"fine-tuning ({why_category}): the BERT recipe warms up then decays linearly to 0",
            "devlin"))
        reasons.append(_reason(
            "final LR 0", "decaying linearly to zero matches or beats cosine to 10% of the peak, and "
                          "the gain grows with the number of tokens per parameter", "bergsma"))
    elif category == "large":
        shape = "linear0" if decay_to_zero else "cosine"
        reasons.append(_reason(
            "shape: warmup + " + ("linear decay to zero" if decay_to_zero else "cosine decay"),
            f"{why_category}: warmup then a decay over the whole run is the default of long "
            "pre-training runs (GPT-3, Llama, OLMo)", "sgdr"))
        reasons.append(_reason("flowchart", "horizon known, large budget (days or weeks) -> warmup + "
                               "cosine decay, warmup 1-5% of the steps", "flowchart"))
        if decay_to_zero:
            reasons.append(_reason(
                "final LR 0, linear", "asked for decay to zero (--decay-to-zero): a linear decay to 0 "
                "beats cosine to 10% at compute-optimal and longer token budgets", "bergsma"))
        else:
            reasons.append(_reason(
                "final LR = peak / 10", "the floor of GPT-3 and Llama; for many tokens per parameter "
                "consider --decay-to-zero (linear to 0, Bergsma et al. 2025)", "gpt3"))
            if tokens_per_param is not None and tokens_per_param >= 20:
                reasons.append(_reason(
                    "consider decay to zero", f"your run has {tokens_per_param:.0f} tokens per parameter: "
                    "from about 20 (compute-optimal) on, linear decay to 0 beat cosine to 10% at the "
                    "same tuned peak, more so the more tokens per parameter (--decay-to-zero)", "bergsma"))
    else:
        shape = "linear0" if decay_to_zero else "cosine"
        reasons.append(_reason(
            "shape: " + ("linear decay to zero" if decay_to_zero else "cosine annealing"),
            f"{why_category}: cosine annealing is the safe default; a short warmup in front of it as "
            "the optimizer needs", "sgdr"))
        reasons.append(_reason("flowchart", "horizon known, moderate budget -> cosine annealing, "
                               "lr_min = lr_max / 10", "flowchart"))
        if decay_to_zero:
            reasons.append(_reason("final LR 0, linear", "asked for decay to zero (--decay-to-zero)",
                                   "bergsma"))
    return shape, reasons


def _warmup(warmup: Any, total: int | None, adam: bool, opt: str, b2: float, b2_given: bool,
            category: str, finetune: bool, spe: float | None, shape: str) -> tuple[int, list[Reason]]:
    if warmup is not None:
        if isinstance(warmup, bool) or not isinstance(warmup, (int, float, str)):
            raise ValueError(f"warmup (--warmup) must be steps or a percentage such as '2%'; got {warmup!r}")
        try:
            quantity = parse_length(str(warmup), "warmup")
        except ValueError:
            raise ValueError(f"warmup (--warmup) must be steps or a percentage such as '2%'; "
                             f"got {warmup!r}") from None
        if quantity.unit == "percent":
            if total is None:
                raise ValueError(f"warmup (--warmup) {warmup!r} is a percentage of the run, but the "
                                 "horizon is unknown: give steps")
            steps = quantity.amount / 100.0 * total
        elif quantity.unit == "epochs":
            if spe is None:
                raise ValueError(f"warmup (--warmup) {warmup!r} is in epochs: give --steps-per-epoch")
            steps = quantity.amount * spe
        elif quantity.unit == "steps":
            steps = quantity.amount
        else:
            raise ValueError(f"warmup (--warmup) must be steps, a percentage or epochs; got {warmup!r}")
        if not (steps >= 0 and math.isfinite(steps)):
            raise ValueError(f"warmup (--warmup) must be >= 0; got {warmup!r}")
        whole = round(steps)
        if total is not None and whole >= total:
            raise ValueError(f"warmup (--warmup) {warmup!r} is {whole} steps, not shorter than the run "
                             f"(--total-steps: {total} steps)")
        if whole > 10 ** 12:
            raise ValueError(f"warmup (--warmup) {warmup!r} is too long: at most 1e12 steps")
        return int(whole), [Reason("warmup: yours", f"{whole} steps, as given", "your input (--warmup)", "")]

    reasons: list[Reason] = []
    need = adam_warmup_steps(b2) if adam else 0
    if adam:
        reasons.append(_reason(
            f"warmup >= {need} updates", f"{opt} with beta2 = {b2:g}"
            f"{'' if b2_given else ' (the default; give --beta2)'}: its second-moment estimate averages "
            f"over about 1 / (1 - beta2) updates, so warm up for 2 / (1 - beta2) = {need}", "mayarats"))
    if total is None:
        if not adam and spe is not None:
            need = round(5 * spe)
            reasons.append(_reason("warmup: 5 epochs", "gradual warmup over 5 epochs for SGD", "goyal"))
        return need, reasons
    fraction = 0.05 if (finetune or total < SHORT_RUN) else 0.01 if total >= 100_000 else 0.03
    by_fraction = round(fraction * total)
    warm = max(need, by_fraction)
    if warm >= total and adam and not b2_given:
        warm = by_fraction
        reasons.append(_reason(
            "warmup shortened", f"with the default beta2 = 0.999 Adam would want {need} updates of "
            f"warmup, not fewer than the run's {total} steps: give your --beta2 (a run this short "
            f"wants a smaller one, e.g. 0.95: 40 updates); {fraction:.0%} of the run is used", "mayarats"))
    if warm >= total:
        raise ValueError(
            f"beta2 (--beta2) {b2:g} needs a warmup of {need} updates (2 / (1 - beta2)), not shorter "
            f"than the run (--total-steps: {total} steps): use a smaller beta2 (0.95 needs 40) or a "
            "longer run")
    reasons.append(_reason(
        f"warmup: {warm} steps", f"the larger of the optimizer's {need} and {fraction:.0%} of the "
        f"{total} steps ({by_fraction}); the flowchart's 1-5% of the run, 5% for short runs and "
        "fine-tuning, 1% for runs of 100k steps or more", "flowchart" if warm == by_fraction else "mayarats"))
    if warm > 0.2 * total and adam and warm == need:
        reasons.append(_reason(
            "warmup is long", f"the optimizer's warmup is {warm / total:.0%} of the run: a smaller beta2 "
            "shortens it (0.98 needs 100 updates, 0.95 needs 40)", "mayarats"))
    if shape == "onecycle":
        rise = min(max(0.3, warm / total), 0.5)
        reasons.append(_reason(
            f"1cycle rise: {rise:.0%} of the run", "1cycle's rise from peak / 25 is its warmup: 30% of the "
            "run (torch OneCycleLR's default), longer if the warmup above needs it, at most 50%",
            "onecycle"))
        warm = round(rise * total)
    return warm, reasons


def _peak(user_peak: float | None, scale: float | None, adam: bool, opt: str, finetune: bool,
          n_params: float | None, tokens: float | None, sps: float | None, tps: float | None,
          shape: str) -> tuple[float, bool, list[Reason]]:
    reasons: list[Reason] = []
    rule = "square root" if adam else "linear"
    key = "malladi" if adam else "goyal"
    if user_peak is not None:
        peak = user_peak
        reasons.append(Reason("peak LR: yours", f"{peak:g}, as given", "your input (--peak)", ""))
        if scale is not None:
            factor = math.sqrt(scale) if adam else scale
            peak = user_peak * factor
            reasons.append(_reason(
                f"peak x {factor:.4g} ({rule} batch rule)",
                f"your batch is {scale:g} x the reference recipe's (--batch-scale): {opt} scales the LR "
                f"by {'sqrt(' + format(scale, 'g') + ')' if adam else format(scale, 'g')}", key))
        prior = False
    elif adam and not finetune and n_params is not None and tokens is not None:
        peak = step_law_peak(n_params, tokens)
        inside = n_params <= STEP_LAW_RANGE["params"] and tokens <= STEP_LAW_RANGE["tokens"]
        reasons.append(_reason(
            "peak LR: Step Law prior",
            f"1.79 * N^-0.713 * D^0.307 with N = {n_params:.3g} (non-embedding) parameters and "
            f"D = {tokens:.3g} tokens "
            f"gives {peak:.3g}; a PRIOR, fitted for AdamW pre-training of transformers (up to about 1B "
            "parameters and 100B tokens"
            + ("" if inside else "; your run is beyond that: an extrapolation, trust it less")
            + "): confirm it with the range test, `lrlab find`", "steplaw"))
        if tps is not None:
            best_batch = 0.58 * tokens ** 0.571
            if not 0.5 <= tps / best_batch <= 2.0:
                reasons.append(_reason(
                    "batch size vs the Step Law", f"the law's peak assumes its optimal batch of about "
                    f"{best_batch:.3g} tokens (0.58 D^0.571); yours is {tps:.3g}", "steplaw"))
        if scale is not None:
            reasons.append(_reason("batch change not applied", "the Step Law prior depends on model and "
                                   "data size only; --batch-scale applies to a --peak you give", "steplaw"))
        prior = True
    else:
        if finetune and adam:
            peak, key0 = 2e-5, "devlin"
            why = "fine-tuning with Adam: the BERT grid's 2e-5 (of 5e-5, 3e-5, 2e-5)"
        elif adam:
            peak, why, key0 = 1e-3, ("no published fit applies (give --params and the horizon in tokens "
                                     "for the Step Law): Adam's default step size 1e-3"), "kingma"
        else:
            batch = sps if sps is not None else 256.0
            peak = 0.1 * batch / 256.0
            why = (f"SGD: 0.1 per 256 samples, x {batch:g} / 256 (linear scaling rule)"
                   + ("" if sps is not None else "; give --samples-per-step for your batch"))
            key0 = "goyal"
        if finetune and not adam:
            why += " (the rule is for training from scratch: fine-tuning usually wants less)"
        reasons.append(_reason("peak LR: a prior", why + ": confirm it with the range test, `lrlab find`",
                               key0))
        if scale is not None:
            reasons.append(_reason("batch change not applied", "--batch-scale rescales a reference "
                                   "recipe's peak: give it with --peak", key))
        prior = True
    if shape == "onecycle":
        reasons.append(_reason(
            "peak LR for 1cycle: the range test", "1cycle's peak is the largest LR at which the range "
            "test's loss still falls (a bit below where it turns up): run `lrlab find` and use its "
            "suggestion", "rangetest"))
    if not (peak > 0 and math.isfinite(peak)):
        raise ValueError(f"the peak LR came out as {peak!r}: check --peak, --batch-scale, --params")
    return _lr(peak), prior, reasons


def _build(shape: str, peak: float, warm: int, total: int | None) -> str:
    """The text form, lengths in steps."""
    floor = _lr(peak / 10.0)
    if shape == "stable":
        body = f"constant({peak!r})"
        return body if warm == 0 else f"warmup({warm}, {body})"
    assert total is not None
    if shape == "onecycle":
        pct = min(max(0.3, warm / total), 0.5)
        extra = "" if pct == 0.3 else f", pct_start={round(pct, 4)!r}"
        # 1cycle's rise is placed at pct_start * total - 1: it needs at least 2 steps in all
        if total < 4:
            return f"linear({peak!r}, 0.0, {total})"
        return f"onecycle({peak!r}, {total}{extra})"
    if shape == "wsd":
        return f"wsd({peak!r}, {total}" + (f", warmup={warm})" if warm else ")")
    decay = (f"linear({peak!r}, 0.0, 'rest')" if shape == "linear0"
             else f"cosine({peak!r}, {floor!r}, 'rest')")
    if warm == 0:
        return str(parse(decay).resolve(Budget(total_steps=total)))
    return str(parse(f"warmup({warm}, {decay})").resolve(Budget(total_steps=total)))


def _kind(shape: str) -> str:
    """The family of a shape description from :func:`lrlab.inspect.summary`."""
    for key, kind in (("1cycle", "onecycle"), ("inverse", "inverse"), ("cooldown", "wsd"),
                      ("stable", "wsd"), ("step", "step"), ("cosine", "cosine"),
                      ("linear decay", "linear"), ("constant", "wsd")):
        if key in shape:
            return kind
    return "other"


@functools.lru_cache(maxsize=1)
def _preset_summaries() -> tuple[tuple[Preset, Summary], ...]:
    return tuple((preset, summary(preset.schedule)) for preset in PRESETS.values())


def _size_in_name(name: str) -> float | None:
    """The model size a preset's name states ('gpt3-125m' -> 1.25e8, 'llama1-7b' -> 7e9)."""
    match = re.search(r"-(\d+(?:\.\d+)?)([mb])(?:-|$)", name)
    if match is None:
        return None
    return float(match.group(1)) * (1e6 if match.group(2) == "m" else 1e9)


def _decades(a: float, b: float) -> float:
    return abs(math.log10(max(a, 1e-300)) - math.log10(max(b, 1e-300)))


def _nearest_preset(schedule: Schedule, n_params: float | None) -> dict[str, Any] | None:
    """The preset closest in shape first, then in peak LR, length of run, model size (where
    both are known) and warmup fraction."""
    mine = summary(schedule)
    best: tuple[float, Preset, str] | None = None
    for preset, theirs in _preset_summaries():
        mismatch = _kind(mine.shape) != _kind(theirs.shape)
        warm_mine = mine.warmup_steps / mine.length if mine.length else 0.0
        warm_theirs = theirs.warmup_steps / theirs.length if theirs.length else 0.0
        endless = (mine.length is None) != (theirs.length is None)
        distance = (10.0 * mismatch + 1.0 * endless + _decades(mine.peak, theirs.peak)
                    + 5.0 * abs(warm_mine - warm_theirs))
        if mine.length and theirs.length:
            distance += 0.5 * _decades(mine.length, theirs.length)
        if n_params is not None:
            size = _size_in_name(preset.name)
            distance += 1.0 if size is None else 0.5 * _decades(n_params, size)
        if best is None or distance < best[0]:
            why = f"{theirs.shape}, peak {theirs.peak:.3g}"
            best = (distance, preset, why)
    if best is None:
        return None
    _, preset, why = best
    return {"name": preset.name, "spec": preset.spec, "citation": preset.citation, "url": preset.url,
            "why": f"the closest published recipe in shape, peak, length and size ({why})"}
