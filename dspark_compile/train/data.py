"""Self-distillation data: our prompts, answered by the target through our runtime, then the features the
drafter learns from, extracted by the target engine.

    prompts = load_prompts("train")
    seqs = generate_responses(runtime, prompts, GenerationSettings(...), work / "responses.jsonl")
    feats = extract_features(plain_target, seqs, top_k=64)       # TargetModel over the unfused `target` engine
    feats.save(work / "features"); feats = Features.load(work / "features")

What is stored per token position j of every sequence (prompt + response, concatenated over sequences):

    tokens      [N]                int32    the token at j
    taps        [N, n_taps*H]      float16  the target's tapped hidden states at j (the drafter's context);
                                   float32 when they exceed float16's range (Gemma's residual stream does)
    topk_ids    [N, K]             int32    the K most likely next tokens of the target at j (predicting j+1)
    topk_probs  [N, K]             float16  their probabilities, softmax of the target's logits (T = 1)

The target distribution is kept as its top K (default 64) instead of the full [V] row (49152 floats):
the probability mass outside the top K is dropped, i.e. treated as 0 by the L1 term of the loss. That
changes ‖q − p‖₁ by at most the dropped mass r = 1 − Σ topk_probs (≤ r either way), and the soft
confidence target ½-of-it by at most r/2; `Features.dropped_mass()` reports r over the response positions
(the only ones trained on), and `extract_features` records its mean in the metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from dspark_compile.errors import TrainingError
from dspark_compile.runtime.sampling import SamplingParams

PROMPTS_FILE = "prompts.jsonl"
SPLITS = ("train", "heldout")
FEATURES_VERSION = 1
F16_MAX = float(np.finfo(np.float16).max)  # 65504: taps beyond it are stored as float32
_ARRAYS = ("tokens", "taps", "topk_ids", "topk_probs", "starts", "prompt_lengths")

Progress = Callable[[int, int], None]
"""progress(done, total), called as work completes."""


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str  # chat | explanation | code | math | list | prose (held-out and train) | extraction | rewrite (train)
    split: str  # train | heldout (fixed in the file, by a hash of the text)
    prompt: str


def load_prompts(split: str | None = None, path: str | Path | None = None) -> list[Prompt]:
    """The packaged prompt set (or the JSONL file at `path`), optionally one split, in file order."""
    if split is not None and split not in SPLITS:
        raise TrainingError(f"prompt split {split!r} does not exist; choose one of {SPLITS}")
    if path is None:
        text = resources.files("dspark_compile").joinpath("data", PROMPTS_FILE).read_text()
        where = f"dspark_compile/data/{PROMPTS_FILE}"
    else:
        if not Path(path).is_file():
            raise TrainingError(f"{path}: prompt file not found")
        text, where = Path(path).read_text(), str(path)
    prompts = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            prompts.append(Prompt(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as err:
            raise TrainingError(f"{where}:{n}: not a prompt record {{id, category, split, prompt}}: {err}") from None
    return [p for p in prompts if split is None or p.split == split]


@dataclass(frozen=True)
class GenerationSettings:
    """How the target answers: `sampling` (temperature 0 is greedy; one seed per prompt is derived from its
    seed), at most `max_new_tokens` per answer, up to `batch_size` answers decoding at once (continuous
    batching: a finished answer's row goes to the next prompt at once). The first answer of a `greedy_share`
    of the prompts (`is_greedy`) is greedy whatever `sampling` says."""

    max_new_tokens: int = 160
    sampling: SamplingParams = SamplingParams(temperature=0.7, top_p=0.8)
    batch_size: int = 16
    greedy_share: float = 0.0

    def for_prompt(self, prompt: "Prompt") -> SamplingParams:
        """The sampling of one answer: greedy, or `sampling` with the prompt's own seed."""
        s = self.sampling
        if not s.temperature or is_greedy(prompt.id, self.greedy_share, s.seed):
            return SamplingParams(seed=s.seed)
        return replace(s, seed=prompt_seed(s.seed, prompt.id))


def is_greedy(prompt_id: str, share: float, seed: int = 0) -> bool:
    """Whether this answer is in the greedy share: only a first answer (id without `~j`), chosen by a hash of
    the id, so a larger share keeps the greedy answers of a smaller one."""
    if "~" in prompt_id or share <= 0.0:
        return False
    return prompt_seed(seed, f"greedy:{prompt_id}") < share * 2**32


@dataclass(frozen=True)
class Sequence:
    id: str
    prompt_ids: tuple[int, ...]
    response_ids: tuple[int, ...]


def repeat_prompts(prompts: list[Prompt], answers: int) -> list[Prompt]:
    """Each prompt `answers` times: the originals first, then copies with ids `ID~1`, `ID~2`, ... (their own
    sampling seeds), so the answers of a smaller count stay a prefix of a larger one."""
    return [p if j == 0 else replace(p, id=f"{p.id}~{j}") for j in range(answers) for p in prompts]


def prompt_seed(seed: int, prompt_id: str) -> int:
    """A per-prompt sampling seed. (The runtime's streams also count the request's place in its batcher,
    here its rank among the prompts still to answer, shortest first: an answer is reproduced by the same
    prompt set and seed; a resumed run numbers what is left.)"""
    return int.from_bytes(hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()[:4], "little")


def generate_responses(runtime, prompts: list[Prompt], settings: GenerationSettings, out_file: Path,
                       progress: Progress | None = None) -> list[Sequence]:
    """Answer `prompts` (in the chat template, when the tokenizer has one) with `runtime` (plain decoding,
    scheduler off) through one continuous batcher of `settings.batch_size` rows, shortest prompts first,
    appending one JSON line per answer to `out_file` as it finishes; answers already there are reused, so
    an interrupted run resumes. Returns the sequences in `prompts` order."""
    from dspark_compile.config import SchedulerConfig

    out_file = Path(out_file)
    done = {s.id: s for s in read_sequences(out_file)} if out_file.is_file() else {}
    todo = [p for p in prompts if p.id not in done]
    chat = bool(runtime.tokenizer.chat_template)  # tiny test models have none: plain prompts
    encoded = sorted(((runtime.encode(p.prompt, chat=chat), p) for p in todo), key=lambda e: len(e[0]))
    batcher = runtime.batcher(SchedulerConfig(mode="off"), max_batch=settings.batch_size)
    owner = {batcher.submit(ids, settings.max_new_tokens, settings.for_prompt(p)).id: (ids, p) for ids, p in encoded}
    finished = len(prompts) - len(todo)
    if progress:
        progress(finished, len(prompts))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with out_file.open("a") as f:
        while batcher.busy:
            ended = [r for r in batcher.step() if r.finished and r.id in owner]
            for req in ended:
                ids, p = owner.pop(req.id)
                if req.error is not None:
                    raise TrainingError(f"answering training prompt {p.id!r} failed: {req.error}")
                seq = Sequence(p.id, tuple(ids), tuple(int(t) for t in req.tokens))
                done[p.id] = seq
                f.write(json.dumps(asdict(seq)) + "\n")
            if ended:
                f.flush()
                finished += len(ended)
                if progress:
                    progress(finished, len(prompts))
    return [done[p.id] for p in prompts]


def read_sequences(path: Path) -> list[Sequence]:
    """Sequences written by `generate_responses` (a truncated last line from an interrupted run is skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append(Sequence(raw["id"], tuple(raw["prompt_ids"]), tuple(raw["response_ids"])))
    return out


@dataclass
class Features:
    """Per-position training features of many sequences, concatenated (see the module docstring)."""

    tokens: np.ndarray  # [N] int32
    taps: np.ndarray  # [N, n_taps*H] float16
    topk_ids: np.ndarray  # [N, K] int32
    topk_probs: np.ndarray  # [N, K] float16
    starts: np.ndarray  # [S+1] int64, sequence s is rows starts[s]:starts[s+1]
    prompt_lengths: np.ndarray  # [S] int64
    meta: dict

    @property
    def num_sequences(self) -> int:
        return int(self.prompt_lengths.shape[0])

    def response_positions(self) -> np.ndarray:
        """Global row index of every response token [M] (the positions anchors are drawn from)."""
        return np.concatenate([np.arange(self.starts[s] + self.prompt_lengths[s], self.starts[s + 1])
                               for s in range(self.num_sequences)]) if self.num_sequences else np.zeros(0, np.int64)

    def dropped_mass(self) -> np.ndarray:
        """Target probability outside the stored top K at every response position [M]."""
        rows = self.response_positions()
        return 1.0 - self.topk_probs[rows].astype(np.float32).sum(-1)

    def save(self, folder: Path) -> Path:
        """Write the arrays and meta.json to a sibling folder, then rename it over `folder`: an interrupted
        save leaves the previous features whole (features are saved over themselves when answers are added)."""
        import shutil
        import tempfile

        from dspark_compile.bundle import move_into_place

        folder = Path(folder).resolve()
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
        try:
            for name in _ARRAYS:
                np.save(tmp / f"{name}.npy", getattr(self, name))
            (tmp / "meta.json").write_text(json.dumps({**self.meta, "version": FEATURES_VERSION}, indent=2) + "\n")
            tmp.chmod(0o755)
            return move_into_place(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # (gone after a successful move)

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "Features":
        folder = Path(folder)
        if not (folder / "meta.json").is_file():
            raise TrainingError(f"{folder}: no extracted features here (meta.json is missing)")
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("version") != FEATURES_VERSION:
            raise TrainingError(f"{folder}: features version {meta.get('version')!r}, this code reads "
                                f"{FEATURES_VERSION}; delete the folder to extract them again")
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r" if mmap else None) for n in _ARRAYS}
        return cls(**arrays, meta=meta)


def extract_features(target, sequences: Iterable[Sequence], top_k: int = 64, batch_tokens: int = 2048,
                     progress: Progress | None = None) -> Features:
    """Run prompt + response of every sequence through `target` (a `TargetModel` over the unfused
    engine, logits at every position) and keep taps and the top-`top_k` next-token distribution."""
    import torch

    seqs = [s for s in sequences if s.response_ids]
    full = [np.asarray(s.prompt_ids + s.response_ids, dtype=np.int64) for s in seqs]
    lengths = np.array([len(x) for x in full], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    n, width = int(starts[-1]), len(target.info.tap_layers) * target.info.hidden_size
    taps = np.zeros((n, width), np.float16)
    ids = np.zeros((n, top_k), np.int32)
    probs = np.zeros((n, top_k), np.float16)
    order = np.argsort(lengths)  # similar lengths together: little padding
    done = 0
    i = 0
    while i < len(order):
        rows = [order[i]]
        while i + len(rows) < len(order) and (len(rows) + 1) * lengths[order[i + len(rows)]] <= batch_tokens:
            rows.append(order[i + len(rows)])
        i += len(rows)
        t = int(lengths[rows].max())
        tokens = np.full((len(rows), t), target.info.pad_token_id, dtype=np.int64)  # [b, T] right-padded
        for r, s in enumerate(rows):
            tokens[r, : lengths[s]] = full[s]
        cache = target.new_cache(len(rows), t)
        out = target.step(cache, tokens, np.broadcast_to(np.arange(t), tokens.shape))  # logits [b, T, V]
        p = torch.softmax(torch.from_numpy(out.logits), dim=-1)  # [b, T, V] fp32
        top = torch.topk(p, top_k, dim=-1)  # [b, T, K]
        if taps.dtype == np.float16 and np.abs(out.taps).max(initial=0.0) > F16_MAX:
            taps = taps.astype(np.float32)  # from here on (the float16 rows so far convert exactly)
        for r, s in enumerate(rows):
            a, m = starts[s], lengths[s]
            taps[a : a + m] = out.taps[r, :m]
            ids[a : a + m] = top.indices[r, :m].numpy()
            probs[a : a + m] = top.values[r, :m].numpy()
        done += len(rows)
        if progress:
            progress(done, len(seqs))
    feats = Features(tokens=np.concatenate(full).astype(np.int32) if full else np.zeros(0, np.int32), taps=taps,
                     topk_ids=ids, topk_probs=probs, starts=starts,
                     prompt_lengths=np.array([len(s.prompt_ids) for s in seqs], dtype=np.int64),
                     meta={"top_k": top_k, "ids": [s.id for s in seqs], "tap_layers": list(target.info.tap_layers)})
    return _with_mass_stats(feats)


def _with_mass_stats(feats: Features) -> Features:
    """Record the mean and 99th percentile of the dropped target mass in `feats.meta`."""
    dropped = feats.dropped_mass()
    feats.meta["mean_dropped_mass"] = round(float(dropped.mean()), 5) if dropped.size else 0.0
    feats.meta["p99_dropped_mass"] = round(float(np.quantile(dropped, 0.99)), 5) if dropped.size else 0.0
    return feats


def extends(feats: Features, sequences: list[Sequence], top_k: int) -> bool:
    """Whether `feats` holds exactly the first sequences of `sequences` (same ids and tokens, same top K),
    so extracting the rest and appending them (`concat_features`) equals extracting them all."""
    ids = feats.meta.get("ids", [])
    if feats.meta.get("top_k") != top_k or len(ids) > len(sequences):
        return False
    head = sequences[: len(ids)]
    if [s.id for s in head] != ids:
        return False
    tokens = [t for s in head for t in s.prompt_ids + s.response_ids]
    return np.array_equal(np.asarray(feats.tokens), np.asarray(tokens, dtype=np.int32))


def concat_features(first: Features, second: Features) -> Features:
    """The sequences of `first` followed by those of `second` (same top K and tapped layers)."""
    for key in ("top_k", "tap_layers"):
        if first.meta.get(key) != second.meta.get(key):
            raise TrainingError(f"features to join differ in {key}: {first.meta.get(key)} vs {second.meta.get(key)}")
    cat = {n: np.concatenate((getattr(first, n), getattr(second, n))) for n in ("tokens", "taps", "topk_ids",
                                                                                  "topk_probs", "prompt_lengths")}
    starts = np.concatenate((first.starts, first.starts[-1] + second.starts[1:])).astype(np.int64)
    meta = {**first.meta, "ids": list(first.meta["ids"]) + list(second.meta["ids"])}
    return _with_mass_stats(Features(**cat, starts=starts, meta=meta))
