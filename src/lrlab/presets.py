"""Schedules of published training recipes, each with its citation and its budget.

A preset is the schedule text (lengths may carry units, e.g. ``'375M tokens'``), the
budget it was trained with, and where the numbers come from. ``lrlab.preset(name)``
returns the schedule resolved against that budget; ``schedule_for(budget)`` against
another (e.g. a shorter run of the same recipe).

Each preset keeps the source's own units: token lengths for recipes defined in tokens
(GPT-3, OLMo 2), epochs for ImageNet, steps where the source counts steps. Its ``note``
says what the source leaves open and which reading we chose. ``docs/presets.md`` has the
table of all of them.

Lengths such as ``'991.611392B tokens'`` are written with a multiplier on purpose: a plain
``'991611392000 tokens'`` is not accepted by ``lrlab.units`` at present (the ``t`` of
``tokens`` is read as the tera multiplier).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from lrlab.schedules import Schedule, parse
from lrlab.units import BatchRamp, Budget, RampedBudget


@dataclass(frozen=True)
class Preset:
    """A published recipe's schedule.

    ``spec`` is the text form; ``budget`` the run it was used for; ``citation`` the paper
    or code (with ``url``); ``note`` says what the source leaves ambiguous and what we chose.
    """

    name: str
    spec: str
    budget: Budget
    citation: str
    url: str
    note: str = ""
    #: the published batch-size ramp, where the source had one (GPT-3, Llama 3)
    ramp: BatchRamp | None = None

    @property
    def schedule(self) -> Schedule:
        """The schedule resolved against the preset's own budget."""
        return self.schedule_for(None)

    @property
    def ramped_budget(self) -> Budget:
        """The preset's budget with its published batch ramp (:class:`RampedBudget`), so that
        lengths in tokens resolve to the update where that many tokens were seen; the plain
        budget where the source kept one batch size. ``preset.schedule_for(preset.ramped_budget)``.
        """
        if self.ramp is None:
            return self.budget
        b = self.budget
        return RampedBudget(b.total_steps, b.tokens_per_step, b.steps_per_epoch, ramp=self.ramp)

    def schedule_for(self, budget: Budget | None = None) -> Schedule:
        """The schedule resolved against ``budget`` (default: the preset's own)."""
        return parse(self.spec).resolve(self.budget if budget is None else budget)


# ---------------------------------------------------------------------------------------
# GPT-3 (Brown et al. 2020): Table 2.1 gives peak LR and batch size per model; Appendix B
# the shape, the same for all sizes.
# ---------------------------------------------------------------------------------------

_GPT3_URL = "https://arxiv.org/abs/2005.14165"
_GPT3_CITATION = (
    "Brown et al. 2020, 'Language Models are Few-Shot Learners' (GPT-3), Table 2.1 "
    "(peak LR, batch size) and Appendix B (schedule)"
)
_GPT3_COMMON = (
    "Linear warmup from 0 over the first 375M tokens, then cosine decay to 10% of the peak "
    "that ends at 260B tokens, then constant at 10% until the run ends at 300B tokens "
    "(Appendix B). Ambiguities and choices: (1) the paper gives the warmup and the decay in "
    "tokens, so the lengths here are tokens and the step where they end is tokens / "
    "tokens_per_step (375M tokens is not a whole number of steps: the warmup ends between "
    "two updates); (2) we read 'cosine decay over 260B tokens' as ending at token 260B with "
    "the warmup inside that span (the cosine lasts 260B - 375M tokens); (3) GPT-3 also "
    "ramped the batch size linearly from 32k tokens to the full batch over the first 4-12B "
    "tokens, which a constant tokens_per_step cannot express: as a function of tokens the "
    "schedule is exact, but the step at which a token count is reached during the ramp "
    "differs from tokens / tokens_per_step. "
)


#: GPT-3's batch ramp: "linearly from a small value (32k tokens) to the full value over the
#: first 4-12 billion tokens of training, depending on model size" (Appendix B). The paper
#: does not say which size ramps over how many tokens: we take 4B (its lower end) for every
#: size, 32k as 32,768 = 16 sequences of 2048, and whole sequences throughout.
GPT3_RAMP_TOKENS = 4e9


def gpt3_ramp(batch_tokens: float, over: float = GPT3_RAMP_TOKENS) -> BatchRamp:
    """GPT-3's batch ramp to ``batch_tokens`` over the first ``over`` tokens (whole 2048-token
    sequences where the full batch is a whole number of them)."""
    multiple = 2048 if batch_tokens % 2048 == 0 else None
    return BatchRamp.ramp(32_768, batch_tokens, over, multiple=multiple)


_GPT3_RAMP_NOTE = (
    " With the batch ramp: preset.ramped_budget is the budget with GPT-3's ramp (from 32,768 "
    "tokens to the full batch, linearly in the tokens seen, over the first 4B tokens: the paper "
    "says 4-12B depending on model size without the mapping, we take 4B for every size), so "
    "the token lengths resolve to the updates where those tokens were seen."
)


def _gpt3(size: str, peak: float, final: float, batch_tokens: int, batch_note: str) -> Preset:
    spec = f"warmup('375M tokens', cosine({peak!r}, {final!r}, '259.625B tokens'))"
    return Preset(
        name=f"gpt3-{size}",
        spec=spec,
        budget=Budget(total_steps="300B tokens", tokens_per_step=batch_tokens),
        citation=f"{_GPT3_CITATION}; GPT-3 {size.upper()}",
        url=_GPT3_URL,
        note=_GPT3_COMMON + batch_note + _GPT3_RAMP_NOTE,
        ramp=gpt3_ramp(batch_tokens),
    )


def _binary_batch(printed: str, tokens: int) -> str:
    return (
        f"Batch: Table 2.1 prints {printed} tokens; we read it as {tokens:,} = "
        f"{tokens // 2048} sequences of 2048 tokens (a power of two, as the common "
        f"reproductions do)."
    )


_GPT3 = (
    _gpt3("125m", 6e-4, 6e-5, 524_288, _binary_batch("0.5M", 524_288)),
    _gpt3("350m", 3e-4, 3e-5, 524_288, _binary_batch("0.5M", 524_288)),
    _gpt3("760m", 2.5e-4, 2.5e-5, 524_288, _binary_batch("0.5M", 524_288)),
    _gpt3("1.3b", 2e-4, 2e-5, 1_048_576, _binary_batch("1M", 1_048_576)),
    _gpt3("2.7b", 1.6e-4, 1.6e-5, 1_048_576, _binary_batch("1M", 1_048_576)),
    _gpt3("6.7b", 1.2e-4, 1.2e-5, 2_097_152, _binary_batch("2M", 2_097_152)),
    _gpt3("13b", 1e-4, 1e-5, 2_097_152, _binary_batch("2M", 2_097_152)),
    _gpt3(
        "175b", 6e-5, 6e-6, 3_200_000,
        "Batch: Table 2.1 prints 3.2M tokens, which is not a whole number of 2048-token "
        "sequences under either reading of 'M'; we use 3,200,000 as printed (Megatron-LM's "
        "GPT-3 175B reproduction uses 1536 x 2048 = 3,145,728). The lengths are in tokens, so "
        "schedule_for(Budget('300B tokens', tokens_per_step=...)) adapts the steps to "
        "another reading.",
    ),
)


#: Llama 3's staged batch (Section 3.4.1): 4M tokens (1024 sequences of 4,096), 8M (1024 of
#: 8,192) after 252M tokens, 16M after 2.87T tokens; M read as 2^20
LLAMA3_BATCH = BatchRamp.stages((0, 4 * 2**20), (252e6, 8 * 2**20), (2.87e12, 16 * 2**20))


_PRESETS: tuple[Preset, ...] = (
    Preset(
        name="build-nanogpt-124m",
        spec="warmup(715, cosine(0.0006, 6e-05, 18358), start_factor=0.0013986013986013986, ramp=714)",
        budget=Budget(total_steps=19073, tokens_per_step=524288),
        citation="Karpathy 2024, build-nanogpt train_gpt2.py get_lr: GPT-2 (124M) on 10B FineWeb-Edu tokens",
        url="https://github.com/karpathy/build-nanogpt/blob/master/train_gpt2.py",
        note="max_lr=6e-4, min_lr=0.1*max_lr, warmup_steps=715, max_steps=19073 (about 10B tokens "
        "at 2**19 = 524,288 tokens per step; 715 steps is the GPT-3 375M-token warmup). get_lr "
        "returns max_lr*(it+1)/715 for it < 715 (start_factor=1/715, the peak reached at it=714, "
        "hence ramp=714), then cosine from max_lr at it=715 to min_lr at it=19073, min_lr after. "
        "The training loop runs range(max_steps): 19,073 updates.",
    ),
    Preset(
        name="nanogpt-default",
        spec="warmup(2000, cosine(0.0006, 6e-05, 598000), start_factor=0.0004997501249375312)",
        budget=Budget(total_steps=600001, tokens_per_step=491520),
        citation="Karpathy 2022, nanoGPT train.py default config and get_lr: GPT-2 (124M) on OpenWebText",
        url="https://github.com/karpathy/nanoGPT/blob/master/train.py",
        note="learning_rate=6e-4, warmup_iters=2000, lr_decay_iters=600000, min_lr=6e-5, "
        "max_iters=600000. get_lr returns learning_rate*(it+1)/(warmup_iters+1) for it < 2000 "
        "(start_factor=1/2001; the value at it=2000, the cosine's start, is the peak), then "
        "cosine to min_lr at it=lr_decay_iters, min_lr after. tokens_per_step = 5*8 gradient "
        "accumulation steps x 12 sequences x 1024 tokens = 491,520. The loop stops once "
        "iter_num > max_iters, so it takes max_iters + 1 = 600,001 updates (the last at min_lr); "
        "the budget counts those.",
    ),
    Preset(
        name="nanogpt-shakespeare-char",
        spec="warmup(100, cosine(0.001, 0.0001, 4900), start_factor=0.009900990099009901)",
        budget=Budget(total_steps=5001, tokens_per_step=16384),
        citation="Karpathy 2022, nanoGPT config/train_shakespeare_char.py with train.py get_lr: a 6-layer "
        "character-level GPT on Shakespeare",
        url="https://github.com/karpathy/nanoGPT/blob/master/config/train_shakespeare_char.py",
        note="learning_rate=1e-3, warmup_iters=100, lr_decay_iters=5000, min_lr=1e-4, "
        "max_iters=5000, with train.py's get_lr ((it+1)/(warmup_iters+1) warmup, so "
        "start_factor=1/101). tokens_per_step = 64 sequences x 256 characters = 16,384 (no "
        "gradient accumulation). Like nanogpt-default the loop takes max_iters + 1 = 5,001 updates.",
    ),
    *_GPT3,
    Preset(
        name="llama1-7b",
        spec="warmup(2000, cosine(0.0003, 3e-05, '991.611392B tokens'))",
        budget=Budget(total_steps="1T tokens", tokens_per_step=4194304),
        citation="Touvron et al. 2023a, 'LLaMA: Open and Efficient Foundation Language Models', "
        "Section 2.3 and Table 2 (6.7B model: LR 3.0e-4, batch 4M, 1.0T tokens)",
        url="https://arxiv.org/abs/2302.13971",
        note="Peak 3e-4, 2,000 warmup steps, cosine to 10% of the peak (3e-5), 4M-token batch, "
        "1.0T tokens. Choices: warmup linear from 0; the cosine starts after the warmup and ends "
        "at the end of training (1T tokens), which the paper implies but does not state. 4M is read "
        "as 4,194,304 = 2048 sequences of 2048 tokens. The warmup is published in steps and the run "
        "in tokens, and an lrlab length cannot be 'tokens minus steps', so the cosine's length is "
        "written as 1T - 2000 x 4,194,304 = 991,611,392,000 tokens: exact for this budget; with "
        "another tokens_per_step b the decay ends 2000 x (1 - 4,194,304 / b) steps away from the "
        "end of the run.",
    ),
    Preset(
        name="llama2-70b",
        spec="warmup(2000, cosine(0.00015, 1.5e-05, '1991.611392B tokens'))",
        budget=Budget(total_steps="2T tokens", tokens_per_step=4194304),
        citation="Touvron et al. 2023b, 'Llama 2: Open Foundation and Fine-Tuned Chat Models', "
        "Section 2.2 and Table 1 (70B: LR 1.5e-4, 2.0T tokens, global batch 4M tokens)",
        url="https://arxiv.org/abs/2307.09288",
        note="Peak 1.5e-4, warmup of 2,000 steps, cosine decaying to 10% of the peak (1.5e-5), "
        "2.0T tokens, 4M-token global batch. Choices as for llama1-7b: warmup from 0, cosine "
        "after the warmup ending at 2T tokens, 4M read as 4,194,304 = 1024 sequences of 4096 "
        "tokens; the cosine length is 2T - 2000 x 4,194,304 tokens (steps and tokens cannot be "
        "mixed in one lrlab length), exact for this budget only.",
    ),
    Preset(
        name="llama3-405b",
        spec="warmup(8000, cosine(8e-05, 8e-07, 1192000))",
        budget=Budget(total_steps=1200000),
        citation="Llama Team, AI @ Meta (Dubey et al.) 2024, 'The Llama 3 Herd of Models', "
        "Section 3.4.1 (initial pre-training) and 3.4.3 (annealing)",
        url="https://arxiv.org/abs/2407.21783",
        note="Peak 8e-5, linear warmup of 8,000 steps, cosine decaying to 8e-7 over 1,200,000 steps. "
        "Choices: warmup from 0; the 1,200,000 steps are read as the whole horizon with the warmup "
        "inside (the cosine ends at step 1,200,000). The batch size changed during training: 4M "
        "tokens (sequences of 4,096) at first, 8M (sequences of 8,192) after 252M tokens, 16M "
        "after 2.87T tokens, so the budget has no tokens_per_step and the preset is in steps, as "
        "published. Not included: the long-context stage and the final annealing, where the LR "
        "was decayed linearly to 0 over the last 40M tokens (their step positions are not "
        "published). The paper's 15.6T tokens at these batch sizes is roughly 1.1M steps, so the "
        "run may have ended before the cosine did.",
        ramp=LLAMA3_BATCH,
    ),
    Preset(
        name="bert-base",
        spec="join(linear(0.0, 0.0001, 10000), linear(9.9e-05, 0.0, 990000))",
        budget=Budget(total_steps=1000000),
        citation="Devlin et al. 2019, 'BERT: Pre-training of Deep Bidirectional Transformers for "
        "Language Understanding', Appendix A.2; google-research/bert optimization.py create_optimizer",
        url="https://arxiv.org/abs/1810.04805",
        note="Adam at 1e-4, warmup over the first 10,000 steps, linear decay, 1,000,000 steps of 256 "
        "sequences. The released code (create_optimizer) defines the decay as "
        "polynomial_decay(1e-4, global_step, num_train_steps, end=0, power=1) measured from step "
        "0, not from the end of the warmup, and overrides it by init_lr*step/warmup while "
        "step < warmup. So the LR rises to 1e-4*9999/10000 at step 9,999 and is 1e-4*(1 - 10000/1e6) "
        "= 9.9e-5 at step 10,000: a join of two linear phases, exact. The paper's 90%/10% split "
        "of steps between sequence length 128 and 512 changes the tokens per step (256 x 128, "
        "then 256 x 512), so the budget has no tokens_per_step; we assume one continuous schedule "
        "over the 1M steps, as the global step carries over between the two phases.",
    ),
    Preset(
        name="resnet50-goyal",
        spec="product(linear(0.03125, 1.0, '5ep'), multistep(3.2, ['30ep', '60ep', '80ep'], gamma=0.1))",
        budget=Budget(total_steps="90ep", steps_per_epoch=157),
        citation="Goyal et al. 2017, 'Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour', "
        "Section 2 (linear scaling rule, gradual warmup) and Section 5.1; ResNet-50, kn = 8192",
        url="https://arxiv.org/abs/1706.02677",
        note="Linear scaling: 0.1 * kn / 256 = 3.2 for kn = 8192 (256 GPUs x 32 images). Gradual "
        "warmup: from 0.1 (the kn=256 reference LR) increased by a constant amount each iteration "
        "to 3.2 after 5 epochs, written as a factor from 0.03125 = 0.1/3.2 to 1 on a step schedule; "
        "then /10 at epochs 30, 60 and 80, 90 epochs in all. Lengths are in epochs; "
        "steps_per_epoch = ceil(1,281,167 / 8192) = 157 (our choice: the last partial batch counts "
        "as an iteration; the paper does not say). Reading 'start from eta' as 0.1 (the kn = 256 "
        "LR) rather than the per-worker n = 32 LR is ours.",
    ),
    Preset(
        name="minicpm-wsd",
        spec="join(constant(0.01, steps='1T tokens'), "
        "limit(exponential(0.01, 0.5, every=5000), '100B tokens'))",
        budget=Budget(total_steps="1.1T tokens", tokens_per_step=3930000),
        citation="Hu et al. 2024, 'MiniCPM: Unveiling the Potential of Small Language Models with "
        "Scalable Training Strategies', Section 4.2 (WSD, Eq. 1), Section 6.2 and Table 2 "
        "(MiniCPM-2.4B)",
        url="https://arxiv.org/abs/2404.06395",
        note="MiniCPM-2.4B: stable stage at the max LR 0.01 for about 1T tokens, batch 3.93M tokens "
        "(Section 6.2; Table 2 rounds it to 4M and gives 1.1T tokens in all); decay stage "
        "f(s - T) = 0.5^((s - T) / 5000), a half-life of 5,000 steps (about 20B tokens). "
        "Ambiguities and choices: the paper's formula is printed as 0.5^((s-S)/T) with T reused "
        "for the half-life; we read it as halving every 5,000 steps from the start of the decay. "
        "No warmup length is published (the paper says the warmup matters little and omits W), so "
        "there is none here. The decay length is not given; we use the remaining 0.1T tokens "
        "(about 10% of the run, the paper's rule of thumb), about 25,445 steps, which ends near "
        "2.9% of the peak; Figure 12 shows the released checkpoint was taken before the end of "
        "the decay. 0.01 is the muP base LR: hidden matrices get it divided by the width "
        "multiplier. tokens_per_step uses 3.93M as printed.",
    ),
    Preset(
        name="deepseek-67b",
        spec="product(linear(0.0, 1.0, 2000), multistep(0.00032, ['80%', '90%'], factors=[0.316, 0.1]))",
        budget=Budget(total_steps="2T tokens", tokens_per_step=18874368),
        citation="DeepSeek-AI (Bi et al.) 2024, 'DeepSeek LLM: Scaling Open-Source Language Models "
        "with Longtermism', Section 2.3 and Table 2 (67B: LR 3.2e-4, batch 4608, 2.0T tokens)",
        url="https://arxiv.org/abs/2401.02954",
        note="Multi-step schedule: the peak 3.2e-4 is reached after 2,000 warmup steps, drops to 31.6% "
        "of it after 80% of the training tokens and to 10% after 90%. Batch 4608 sequences x 4096 "
        "tokens = 18,874,368 tokens; 2.0T tokens. The milestones are fractions of the run (80%, "
        "90%), placed absolutely by a product with a 0-to-1 warmup factor, so schedule_for() with a "
        "shorter budget moves them with the run. Choices: the warmup is linear from 0 (the paper "
        "gives only its length); 31.6% is taken as printed (0.316, not sqrt(0.1) = 0.3162...).",
    ),
    Preset(
        name="olmo2-7b",
        spec="warmup('8384.413696M tokens', cosine(0.0003, 3e-05, '4991.611392B tokens'), "
        "start_factor=0.0005)",
        budget=Budget(total_steps=928646, tokens_per_step=4194304),
        citation="Team OLMo (Walsh et al.) 2024, '2 OLMo 2 Furious', Section 2.3, Section 4.1 and "
        "Table 3; allenai/OLMo configs/official-1124/OLMo2-7B-stage1.yaml",
        url="https://arxiv.org/abs/2501.00656",
        note="Stage 1 (pretraining) from the released config: AdamW at 3e-4, cosine_with_warmup in "
        "units of tokens, t_warmup = 8,388,608,000 tokens (2,000 steps of 1024 x 4096 = 4,194,304 "
        "tokens), t_max = 5T tokens, alpha_f = 0.1 (final 3e-5), warmup_min_lr = 0. The trainer "
        "evaluates the schedule at the tokens seen including the current batch, so update t uses "
        "the value at (t + 1) x 4,194,304 tokens: the warmup reaches the peak at t = 1999 (hence "
        "start_factor = 1/2000 and a warmup of t_warmup minus one batch, 8,384,413,696 tokens) and "
        "the cosine lasts t_max - t_warmup tokens; exact at this batch size. The cosine was set for "
        "5T tokens but stage 1 stopped at step 928,646 (about 3.9T tokens, the checkpoint stage 2 "
        "loads), where this schedule gives 6.135e-5. Mid-training (stage 2, not part of this "
        "preset): from that checkpoint, 50B tokens of the Dolmino mix with the LR decayed linearly "
        "from 6.1499e-5 to 0, run three times with different data orders and the three models "
        "averaged (souped). The stage-2 start (6.1499e-5) matches this cosine near step 928,000 "
        "rather than 928,646; the released files do not explain the difference.",
    ),
    Preset(
        name="modded-nanogpt-trapezoid",
        spec="wsd(0.05, 1395, cooldown_fraction=0.4, shape='linear', floor=0.005)",
        budget=Budget(total_steps=1395, tokens_per_step=524288),
        citation="Keller Jordan and contributors, KellerJordan/modded-nanogpt train_gpt.py get_lr, "
        "record 2025-01-17 'Misc Tweaks: Sub 3 Mins' (records/011725_MiscTweaksSub3Min): GPT-2 124M "
        "speedrun on FineWeb",
        url="https://github.com/KellerJordan/modded-nanogpt/tree/master/records/011725_MiscTweaksSub3Min",
        note="num_iterations = 1395, cooldown_frac = 0.4, batch 8 x 64 x 1024 = 524,288 tokens. "
        "get_lr is a multiplier on every group's LR: 1 for the first 60% of the run (837 steps), "
        "then linear to 0.1 at step 1395 (applied with LambdaLR, so update t uses get_lr(t)); no "
        "warmup. Values are absolute learning rates, so the preset uses the Muon LR 0.05 of the "
        "hidden matrices as the peak; the Adam groups (lm_head 0.008, embeddings 0.6, scalars 0.04) "
        "follow the same shape and are per-group multipliers of 0.16, 12 and 0.8. Later records "
        "keep this trapezoid with other numbers (and the newest couple the LR to a batch-size "
        "schedule), so this preset is pinned to one record.",
    ),
    Preset(
        name="transformer-base",
        spec="warmup(4000, inverse_sqrt(0.0006987712429686843, timescale=4000))",
        budget=Budget(total_steps=100000),
        citation="Vaswani et al. 2017, 'Attention Is All You Need', Section 5.3 (Eq. 3) and Section 5.2; "
        "the base model, d_model = 512",
        url="https://arxiv.org/abs/1706.03762",
        note="lrate = d_model^-0.5 * min(step_num^-0.5, step_num * warmup_steps^-1.5) with "
        "d_model = 512 and warmup_steps = 4000: linear to 512^-0.5 * 4000^-0.5 = 6.9877e-4 at step "
        "4000, then proportional to 1/sqrt(step). Written as a warmup before inverse_sqrt with "
        "timescale 4000, which is this formula exactly with step_num = t, the number of updates "
        "taken (so the first update gets 0). The paper does not say where step_num starts; "
        "reading it as t + 1 would give the first update a nonzero LR. The base model trained "
        "100,000 steps with batches of about 25,000 source and 25,000 target tokens (not a fixed "
        "count, so no tokens_per_step).",
    ),
    Preset(
        name="t5-pretrain",
        spec="join(constant(0.01, steps=10000), inverse_sqrt(0.01))",
        budget=Budget(total_steps=524288, tokens_per_step=65536),
        citation="Raffel et al. 2020, 'Exploring the Limits of Transfer Learning with a Unified "
        "Text-to-Text Transformer' (T5), Section 3.1.2",
        url="https://arxiv.org/abs/1910.10683",
        note="Inverse square root schedule 1/sqrt(max(n, k)) with k = 10^4: constant 0.01 for the "
        "first 10^4 steps, then 1/sqrt(n) (inverse_sqrt's default timescale is 10,000 = k). "
        "Baseline pre-training: 2^19 = 524,288 steps of 128 sequences of 512 tokens, packed to "
        "about 2^16 = 65,536 tokens per batch (about 34B tokens). n is read as the number of "
        "updates taken (n = t); reading it as t + 1 would shift the whole schedule one step earlier.",
    ),
)

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESETS}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a ValueError naming the closest one for a typo."""
    if name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(name, list(PRESETS), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown preset {name!r}.{hint} Known presets: {', '.join(PRESETS)}")
