"""``charlm``: a small GPT-style character-level transformer on the stdlib's source.

nanoGPT in miniature (Karpathy's ``model.py``): token and position embeddings, pre-LayerNorm
blocks of causal self-attention (``scaled_dot_product_attention(is_causal=True)``) and a
GELU MLP, a final LayerNorm, the output layer tied to the token embedding; AdamW with betas
(0.9, 0.95), weight decay 0.1 on matrices only (:func:`lrlab.torch.param_groups`), gradient
norm clipped to 1.0 (:func:`lrlab.torch.clip_grad_norm`). The corpus is
:func:`lrlab.lab.tasks.corpus.stdlib_corpus` (offline), split 90/10 by position.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from lrlab.schedules import Schedule

from ._common import BuiltinTask, History, Option, is_eval_step, resolve, torch_session
from .base import RunResult
from .corpus import stdlib_corpus

#: the validation batches are drawn once, from this seed, for every run
VAL_SEED = 20240601


@functools.lru_cache(maxsize=1)
def encoded() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(train, val, vocabulary)``: the corpus as uint8 codes, split 90/10 by position."""
    corpus = stdlib_corpus()
    vocab = tuple(sorted(set(corpus.text)))
    table = np.zeros(128, dtype=np.uint8)
    table[[ord(c) for c in vocab]] = np.arange(len(vocab), dtype=np.uint8)
    codes = table[np.frombuffer(corpus.text.encode("ascii"), dtype=np.uint8)]
    cut = int(0.9 * len(codes))
    return codes[:cut], codes[cut:], vocab


@functools.lru_cache(maxsize=1)
def _gpt_class():
    """The model class, built on first use so that importing this module needs no torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Block(nn.Module):
        def __init__(self, n_embd: int, n_head: int) -> None:
            super().__init__()
            self.n_head = n_head
            self.ln_1 = nn.LayerNorm(n_embd)
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.attn_proj = nn.Linear(n_embd, n_embd)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.mlp_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, c = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
            q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(b, t, c))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self, vocab: int, block_size: int, n_layer: int, n_head: int, n_embd: int) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.blocks = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.lm_head.weight = self.wte.weight  # weight tying
            for name, p in self.named_parameters():  # nanoGPT's initialization
                if name.endswith("proj.weight"):  # residual projections: scaled by depth
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))
                elif p.dim() >= 2:
                    nn.init.normal_(p, 0.0, 0.02)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)

        def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            positions = torch.arange(idx.shape[1], device=idx.device)
            x = self.wte(idx) + self.wpe(positions)
            for block in self.blocks:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))
            return logits, loss

    return GPT


def _batch(data: np.ndarray, offsets: np.ndarray, block_size: int):
    import torch

    rows = torch.from_numpy(data[offsets[:, None] + np.arange(block_size + 1)].astype(np.int64))
    return rows[:, :-1], rows[:, 1:]


class CharLMTask(BuiltinTask):
    """A character-level GPT on the Python standard library's source (torch, CPU).

    What the history holds:

    - ``lr``: the LR update ``t`` used, read from the optimizer (``schedule(t)``).
    - ``loss``: the mean next-character cross-entropy (nats) of update ``t``'s batch,
      before the update. Batches are ``batch_size`` windows of ``block_size + 1``
      characters at seeded random positions of the training split.
    - ``val_loss``/``accuracy``: cross-entropy and top-1 next-character accuracy over
      ``eval_batches`` fixed validation batches (the same for every seed and run), after
      every ``eval_every`` updates and after the last one.

    A non-finite gradient norm skips the update (``info["skipped_updates"]``); the step
    still counts. ``info`` holds the corpus sha256: runs on different corpora (other
    Python versions) are different tasks.
    """

    name = "charlm"
    description = "character-level GPT (2 layers, 64 wide) on the Python stdlib's source (torch)"
    default_steps = 1000
    default_peak = 3e-3
    converged_loss = 1.8
    option_specs: ClassVar[Mapping[str, Option]] = {
        "n_layer": Option(2, int, "transformer blocks", low=1, high=64),
        "n_head": Option(4, int, "attention heads (must divide n_embd)", low=1, high=64),
        "n_embd": Option(64, int, "embedding width", low=4, high=4096),
        "block_size": Option(64, int, "context length in characters", low=2, high=4096),
        "batch_size": Option(16, int, "sequences per update", low=1, high=4096),
        "weight_decay": Option(0.1, float, "AdamW weight decay on matrices", low=0.0, high=10.0),
        "grad_clip": Option(1.0, float, "gradient norm clip", low=1e-6, high=1e6),
        "eval_every": Option(100, int, "updates between evaluations", low=1),
        "eval_batches": Option(8, int, "validation batches per evaluation", low=1, high=10_000),
    }

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        values = super().check_options(options)
        if values["n_embd"] % values["n_head"]:
            raise ValueError(f"task 'charlm': option n_head={values['n_head']} must divide "
                             f"n_embd={values['n_embd']}")
        return values

    def _run(self, schedule: Schedule, *, seed: int, steps: int, options: dict[str, Any]) -> RunResult:
        with torch_session(seed):
            return self._train(schedule, seed, steps, options)

    def _train(self, schedule: Schedule, seed: int, steps: int, options: dict[str, Any]) -> RunResult:
        import torch

        from lrlab.torch import Scheduler, clip_grad_norm, param_groups

        rng = np.random.default_rng(seed)
        block, batch = options["block_size"], options["batch_size"]
        train, val, vocab = encoded()
        schedule = resolve(schedule, steps, tokens_per_step=batch * block)

        val_offsets = np.random.default_rng(VAL_SEED).integers(
            0, len(val) - block - 1, size=(options["eval_batches"], batch))
        val_batches = [_batch(val, offsets, block) for offsets in val_offsets]

        model = _gpt_class()(len(vocab), block, options["n_layer"], options["n_head"], options["n_embd"])
        groups = param_groups(model, options["weight_decay"])
        optimizer = torch.optim.AdamW(groups, lr=schedule(0), betas=(0.9, 0.95))
        scheduler = Scheduler(optimizer, schedule)
        parameters = list(model.parameters())

        history = History()
        skipped = 0
        train_s = 0.0
        for t in range(steps):
            started = time.perf_counter()
            x, y = _batch(train, rng.integers(0, len(train) - block - 1, size=batch), block)
            model.train()
            _, loss = model(x, y)
            if history.add(t, optimizer.param_groups[0]["lr"], loss.item()):
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm(parameters, options["grad_clip"]).skip:
                skipped += 1
            else:
                optimizer.step()
            scheduler.step()
            train_s += time.perf_counter() - started
            if is_eval_step(t, steps, options["eval_every"]):
                model.eval()
                with torch.no_grad():
                    losses, correct = [], 0.0
                    for xv, yv in val_batches:
                        logits, val_loss = model(xv, yv)
                        losses.append(val_loss.item())
                        correct += (logits.argmax(dim=-1) == yv).float().mean().item()
                history.evaluated(sum(losses) / len(losses), correct / len(val_batches))

        corpus = stdlib_corpus()
        tokens = len(history.rows) * batch * block
        info = {
            "task": self.name,
            "parameters": sum(p.numel() for p in model.parameters()),  # tied weights once
            "vocab_size": len(vocab), "corpus": "python-stdlib", "corpus_sha256": corpus.sha256,
            "corpus_chars": corpus.chars, "corpus_files": len(corpus.files), "python": corpus.python,
            "train_chars": len(train), "val_chars": len(val), "tokens_per_step": batch * block,
            "tokens": tokens, "tokens_per_s": round(tokens / max(train_s, 1e-9), 1),
            "train_s": round(train_s, 4), "skipped_updates": skipped,
            "torch": torch.__version__, "options": options,
        }
        return history.result(info)


TASK = CharLMTask()
