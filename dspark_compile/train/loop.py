"""The training loop: AdamW, linear warmup then cosine decay, gradient clipping, resumable checkpoints.

Step t draws its blocks from a generator seeded by (seed, t), so a run resumed from a checkpoint sees the
same batches as an uninterrupted one; the checkpoint holds the trainable tensors, the optimiser and the
scheduler state. Every setting must match to resume except `steps`: a run may be shortened or extended,
and the cosine schedule then follows the new total from the step reached. Embedding and lm_head are the
target's own modules and stay frozen.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dspark_compile.bundle import replaced_atomically
from dspark_compile.config import TrainingConfig
from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.drafter.sampling import confidence_logits, markov_logits
from dspark_compile.errors import TrainingError
from dspark_compile.train.blocks import Blocks, Vocab, draft_vocab, sample_blocks, training_vocab
from dspark_compile.train.data import Features
from dspark_compile.train.forward import block_forward, block_logits
from dspark_compile.train.losses import LossParts, drafter_loss
from dspark_compile.train.monitor import slot_accuracy

CHECKPOINT = "checkpoint.pt"


@dataclass
class StepLog:
    step: int  # 1-based, steps done
    steps: int
    loss: float
    ce: float
    l1: float
    bce: float
    accuracy: float
    lr: float
    slots_per_s: float  # trained (block, slot) pairs per second, this step
    eta_s: float  # at the mean speed of this run so far
    monitor: dict[str, list[float]] | None = None  # name -> greedy slot accuracy [γ] (`monitor`), when measured


def trainable(drafter: DSparkDrafter) -> list[tuple[str, torch.nn.Parameter]]:
    """Every parameter but the shared, frozen embedding and lm_head."""
    return [(n, p) for n, p in drafter.named_parameters() if n not in DSparkDrafter.SHARED]


def blocks_loss(drafter: DSparkDrafter, blocks: Blocks, bf16: bool = False, vocab: Vocab | None = None) -> LossParts:
    """The §5 objective of a batch of blocks (teacher-forced previous tokens), over `vocab` (None: all)."""
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    v = blocks.valid  # [S, n, γ]
    labels, p_ids, prev = blocks.labels[v], blocks.p_ids[v], blocks.prev[v]  # [M], [M, K], [M]
    with autocast:
        hs = block_forward(drafter, blocks.taps, blocks.anchor_tokens, blocks.anchors)[v]  # [M, H]
        U = block_logits(drafter, hs, None if vocab is None else vocab.ids)  # [M, V or V'] fp32
    if vocab is None:
        z = markov_logits(drafter, U[None], prev[None])[0]  # [M, V]
    else:
        e = drafter.markov_head.markov_w1(prev).float()  # [M, r]
        z = U + e @ drafter.markov_head.markov_w2.weight[vocab.ids].float().T  # [M, V']
        labels, p_ids = vocab.index[labels], vocab.index[p_ids]  # into V' (-1: outside)
    c = confidence_logits(drafter, hs[None].float(), prev[None])[0]  # [M]
    slot = torch.arange(drafter.block_size).expand_as(v)[v]  # [M]
    return drafter_loss(z, c, labels, p_ids, blocks.p_probs[v], slot, drafter.block_size)


def with_tap_noise(blocks: Blocks, scale: float, rng: np.random.Generator) -> Blocks:
    """`blocks` with N(0, (scale * rms)^2) added to each tap vector (rms: of that vector; zero rows past a
    sequence's end stay zero)."""
    taps = blocks.taps  # [S, L, W]
    rms = taps.pow(2).mean(-1, keepdim=True).sqrt()  # [S, L, 1]
    noise = torch.from_numpy(rng.standard_normal(tuple(taps.shape), dtype=np.float32))
    return blocks._replace(taps=taps + noise * (scale * rms))


def lr_factor(step: int, steps: int, warmup: float) -> float:
    """Linear warmup over ceil(warmup * steps) steps, then cosine from 1 to 0 at `steps`."""
    w = math.ceil(warmup * steps)
    if step < w:
        return (step + 1) / w
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - w) / max(1, steps - w))))


def train(drafter: DSparkDrafter, feats: Features, cfg: TrainingConfig, ckpt_dir: Path,
          on_step: Callable[[StepLog], None] | None = None, stop_after: int | None = None,
          monitor: dict[str, Blocks] | None = None) -> list[StepLog]:
    """Train `drafter` in place for `cfg.steps` steps (resuming from `ckpt_dir` when it holds a
    checkpoint); `stop_after` ends the run early after that many steps (tests, time-boxed runs).
    `monitor` (name -> fixed blocks) is scored every `cfg.eval_every` steps and at the last one."""
    vocab = draft_vocab(drafter) or training_vocab(feats, cfg.train_vocab, drafter.vocab_size)
    params = trainable(drafter)
    for _, p in params:
        p.requires_grad_(True)
    drafter.train()
    opt = torch.optim.AdamW([p for _, p in params], lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, cfg.warmup))
    start, history = _resume(drafter, opt, sched, cfg, Path(ckpt_dir))
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    t_run, done_here = 0.0, 0
    for step in range(start, end):
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, step])
        blocks = sample_blocks(feats, rng, cfg.sequences_per_step, cfg.anchors_per_sequence, drafter.block_size)
        if cfg.tap_noise:
            blocks = with_tap_noise(blocks, cfg.tap_noise, rng)
        parts = blocks_loss(drafter, blocks, cfg.bf16, vocab)
        opt.zero_grad(set_to_none=True)
        parts.total.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in params], cfg.grad_clip)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        dt = time.perf_counter() - t0
        t_run, done_here = t_run + dt, done_here + 1
        log = StepLog(step=step + 1, steps=cfg.steps, loss=float(parts.total.detach()), ce=parts.ce, l1=parts.l1,
                      bce=parts.bce, accuracy=parts.accuracy, lr=lr, slots_per_s=parts.slots / dt,
                      eta_s=t_run / done_here * (cfg.steps - step - 1))
        if monitor and cfg.eval_every and ((step + 1) % cfg.eval_every == 0 or step + 1 == end):
            log.monitor = {name: slot_accuracy(drafter, blocks) for name, blocks in monitor.items()}
        history.append(log)
        if on_step:
            on_step(log)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == end:
            _save(drafter, opt, sched, cfg, history, Path(ckpt_dir))
    drafter.eval()
    drafter.requires_grad_(False)
    return history


def _fingerprint(cfg: TrainingConfig) -> dict:
    """What a checkpoint must agree on to be resumed."""
    return cfg.model_dump()


def _save(drafter, opt, sched, cfg, history, ckpt_dir: Path) -> None:
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    state = {"model": {n: p.detach().clone() for n, p in trainable(drafter)}, "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "step": history[-1].step if history else 0,
             "history": [vars(h) for h in history], "config": _fingerprint(cfg)}
    with replaced_atomically(ckpt_dir / CHECKPOINT) as tmp:  # a crash mid-write leaves the previous checkpoint
        torch.save(state, tmp)


def check_resumable(cfg: TrainingConfig, ckpt_dir: Path, mmap: bool = True) -> dict | None:
    """The checkpoint in `ckpt_dir` (None when there is none), refused when it was written with other
    settings. Callers run it before generating data, so a mismatch costs nothing; `mmap` leaves the
    tensors on disk."""
    path = Path(ckpt_dir) / CHECKPOINT
    if not path.is_file():
        return None
    state = torch.load(path, weights_only=False, mmap=mmap)
    free = ("checkpoint_every", "steps", "eval_every", "generation_batch")  # a run may be shortened or extended
    # (the schedule follows cfg.steps) or watched more or less often; the batch does not change the answers
    written = {**TrainingConfig().model_dump(), **state["config"]}  # settings added since: their defaults
    theirs = {k: v for k, v in written.items() if k not in free}
    ours = {k: v for k, v in _fingerprint(cfg).items() if k not in free}
    if theirs != ours:
        diff = sorted(k for k in ours if theirs.get(k) != ours[k])
        raise TrainingError(f"{path} was written with other training settings ({', '.join(diff)} differ); "
                            "delete it to start over, or restore those settings to resume")
    return state


def _resume(drafter, opt, sched, cfg, ckpt_dir: Path) -> tuple[int, list[StepLog]]:
    path = ckpt_dir / CHECKPOINT
    state = check_resumable(cfg, ckpt_dir, mmap=False)
    if state is None:
        return 0, []
    named = dict(trainable(drafter))
    if set(state["model"]) != set(named):
        raise TrainingError(f"{path} holds the tensors of another drafter; delete it to start over")
    with torch.no_grad():
        for n, p in named.items():
            p.copy_(state["model"][n])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    return int(state["step"]), [StepLog(**h) for h in state["history"]]
