"""``lrlab recommend``: a schedule for your run, with a cited reason for each choice.

    lrlab recommend --total-steps 100000 --optimizer adamw --beta2 0.95
    lrlab recommend --total-steps '300B tokens' --tokens-per-step 0.5M --params 124M --json
    lrlab recommend --total-steps unknown

Only the horizon is required. ``--json`` prints ``spec``, ``reasons`` (each ``choice,
reason, citation, url``), ``preset`` (``name, spec, citation, url, why``) and ``peak,
peak_is_prior, warmup_steps, total_steps, budget``. Mistakes exit with status 2 and
``lrlab: error: <flag> ...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap


def _recommend(args: argparse.Namespace) -> int:
    from lrlab.advisor import recommend

    result = recommend(
        args.total_steps, total_tokens=args.total_tokens, tokens_per_step=args.tokens_per_step,
        samples_per_step=args.samples_per_step, steps_per_epoch=args.steps_per_epoch,
        optimizer=args.optimizer, beta1=args.beta1, beta2=args.beta2, finetune=args.finetune,
        params=args.params, compute_budget=args.compute_budget, batch_scale=args.batch_scale,
        peak=args.peak, warmup=args.warmup, checkpoints=args.checkpoints,
        decay_to_zero=args.decay_to_zero,
    )
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return 0
    width = 100
    lines = [result.spec, ""]
    for i, reason in enumerate(result.reasons, 1):
        lines += textwrap.wrap(f"{i}. {reason.choice}: {reason.reason}", width, subsequent_indent="   ")
        source = reason.citation + (f" <{reason.url}>" if reason.url.startswith("http") else "")
        lines += textwrap.wrap(f"[{source}]", width, initial_indent="   ", subsequent_indent="    ")
    if result.preset is not None:
        lines += ["", f"nearest preset: {result.preset['name']}  {result.preset['spec']}"]
    lines += ["", f"look at it:  lrlab show \"{result.spec}\""]
    if result.peak_is_prior:
        lines.append("the peak LR is a prior: confirm it with the range test (lrlab find)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _beta(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1); got {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``lrlab recommend``."""
    parser = commands.add_parser(
        "recommend", help="recommend a schedule for a run, with cited reasons",
        description="Recommend a schedule for your run: shape, warmup and peak LR, each with the "
        "reason and its source, plus the nearest published preset. Only the horizon is required.",
        epilog="examples:\n"
        "  lrlab recommend --total-steps 100000 --optimizer adamw --beta2 0.95\n"
        "  lrlab recommend --total-steps '300B tokens' --tokens-per-step 0.5M --params 124M\n"
        "  lrlab recommend --total-steps 2000 --optimizer sgd --samples-per-step 512 --compute-budget 2h\n"
        "  lrlab recommend --total-steps unknown --beta2 0.95 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    horizon = parser.add_argument_group("the horizon (one of these is required)")
    horizon.add_argument("--total-steps", metavar="X",
                         help="steps of the run, a length such as '300B tokens' or '90ep', or 'unknown'")
    horizon.add_argument("--total-tokens", metavar="X", help="tokens of the run (e.g. 300B), or 'unknown'")
    batch = parser.add_argument_group("the batch")
    batch.add_argument("--tokens-per-step", metavar="Y", help="tokens per optimizer step (e.g. 0.5M)")
    batch.add_argument("--samples-per-step", metavar="Y", help="samples per optimizer step (batch size)")
    batch.add_argument("--steps-per-epoch", metavar="Z", help="optimizer steps per epoch")
    batch.add_argument("--batch-scale", type=_number, metavar="K",
                       help="your batch is K times the reference recipe's (rescales --peak)")
    run = parser.add_argument_group("the run")
    run.add_argument("--optimizer", default="adamw", metavar="NAME",
                     help="adam, adamw, nadam, radam, lamb or sgd (default adamw)")
    run.add_argument("--beta1", type=_beta, metavar="B1", help="Adam's beta1")
    run.add_argument("--beta2", type=_beta, metavar="B2", help="Adam's beta2 (default 0.999)")
    run.add_argument("--finetune", action="store_true", help="fine-tuning (default: pre-training)")
    run.add_argument("--params", metavar="N", help="model size in parameters (e.g. 124M, 7B)")
    run.add_argument("--compute-budget", metavar="T", help="wall-clock budget: 6h, 3d, 2w (hours if bare)")
    choices = parser.add_argument_group("choices you have made")
    choices.add_argument("--peak", type=_number, metavar="LR",
                         help="a peak LR you trust (yours, a reference recipe's, or `lrlab find`'s)")
    choices.add_argument("--warmup", metavar="W", help="warmup steps (or '2%%'), instead of the advisor's")
    choices.add_argument("--checkpoints", action="store_true",
                         help="usable checkpoints at several budgets are wanted (WSD)")
    choices.add_argument("--decay-to-zero", action="store_true",
                         help="decay linearly to 0 instead of cosine to peak / 10")
    parser.add_argument("--json", action="store_true", help="print JSON: spec, reasons, preset, ...")
    parser.set_defaults(run=_recommend)
