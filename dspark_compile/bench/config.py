"""What a load benchmark measures: its settings (one frozen dataclass) and the arms it compares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dspark_compile.config import SchedulerConfig
from dspark_compile.errors import DSparkError

DEFAULT_PROMPTS = Path(__file__).resolve().parents[2] / "benchmarks" / "prompts.txt"
MODES = ("greedy", "sampled")
PEERS = ("generate", "prompt-lookup", "llama-cpp")


class BenchError(DSparkError):
    """A benchmark setting is invalid or what it needs (prompts, drafter, cost table) is missing."""


@dataclass(frozen=True)
class BenchConfig:
    """Settings of one benchmark run.

    The defaults aim at a SmolLM2-135M run within about 15 minutes on 2 CPU cores; the drafter pass dominates
    speculative rounds there (an untrained drafter, τ ≈ 1, also needs the most rounds).
    """

    levels: tuple[int, ...] = (1, 4, 16)
    """Concurrent clients per load level (closed loop: each submits its next request when one finishes)."""
    new_tokens: int = 32
    """Tokens generated per request (EOS ignored, so every arm does the same work)."""
    requests_per_client: int = 2
    repeats: int = 1
    """Passes over all (level, mode, arm) cells. Within a pass the arms of a cell run back to back; from one
    pass to the next their order rotates. Rows report medians over passes."""
    fixed_lens: tuple[int, ...] | None = None
    """γ of the fixed-length arms; None: 2, 4 and the bundle's block size (those that fit in the block)."""
    modes: tuple[str, ...] = MODES
    temperature: float = 0.7
    """Temperature of the sampled mode (top-k off)."""
    top_p: float = 1.0
    seed: int = 0
    peers: tuple[str, ...] = ("generate", "prompt-lookup")
    """Peer arms, run at concurrency 1 only (none of them batches): transformers 'generate' and
    'prompt-lookup', and 'llama-cpp' (llama-cpp-python on the target's GGUF; optional, see peers.py)."""
    prompt_lookup_tokens: int = 10
    warmup_tokens: int = 8
    threads: int | None = None
    """Engine threads (also torch's, for the peers); None: the recipe's runtime.threads."""
    prompts: Path = DEFAULT_PROMPTS
    chat: bool | None = None
    """Wrap prompts in the chat template; None: when the tokenizer has one."""
    arm_names: tuple[str, ...] = field(default=())
    """Keep only these arms (by name, e.g. 'plain', 'fixed-4', 'cost', 'server'); empty: all."""
    url: str | None = None
    """A running `dspark-compile serve BUNDLE --ignore-eos` to measure as the arm 'server' (over HTTP)."""

    def __post_init__(self):
        problems = []
        if not self.levels or any(c < 1 for c in self.levels):
            problems.append(f"levels = {self.levels}: need one or more concurrency levels >= 1")
        for name in ("new_tokens", "requests_per_client", "repeats", "warmup_tokens", "prompt_lookup_tokens"):
            if getattr(self, name) < 1:
                problems.append(f"{name} = {getattr(self, name)}: must be >= 1")
        if self.new_tokens < 2:
            problems.append(f"new_tokens = {self.new_tokens}: at least 2 are needed for a time per output token")
        if self.fixed_lens is not None and any(g < 1 for g in self.fixed_lens):
            problems.append(f"fixed_lens = {self.fixed_lens}: each γ must be >= 1")
        if not self.modes or any(m not in MODES for m in self.modes):
            problems.append(f"modes = {self.modes}: allowed {MODES}")
        if any(p not in PEERS for p in self.peers):
            problems.append(f"peers = {self.peers}: allowed {PEERS}")
        if self.temperature <= 0 and "sampled" in self.modes:
            problems.append(f"temperature = {self.temperature}: the sampled mode needs a temperature > 0")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p = {self.top_p}: must be in (0, 1]")
        if problems:
            raise BenchError("invalid benchmark settings\n  " + "\n  ".join(problems))
        object.__setattr__(self, "levels", tuple(sorted(set(self.levels))))


@dataclass(frozen=True)
class Arm:
    """One way of generating: the runtime with a scheduler setting, a transformers peer, or a server."""

    name: str  # "plain", "fixed-4", "threshold", "cost", "hf-generate", "hf-prompt-lookup", "llama-cpp"
    scheduler: SchedulerConfig | None = None  # runtime arms only
    peer: str | None = None  # one of PEERS for transformers arms
    url: str | None = None  # the "server" arm: a running `dspark-compile serve` (bench --url)

    @property
    def speculative(self) -> bool:
        return self.scheduler is not None and self.scheduler.mode != "off"


def runtime_arms(config: BenchConfig, recipe_scheduler, block_size: int, has_costs: bool) -> tuple[list[Arm], list[str]]:
    """The runtime arms a bundle supports, and a note for each arm left out (no drafter, no cost table)."""
    arms, notes = [Arm("plain", SchedulerConfig(mode="off"))], []
    if block_size == 0:
        notes.append("the bundle has no drafter: only the plain arm runs")
        return arms, notes
    lens = config.fixed_lens or tuple(g for g in (2, 4) if g < block_size) + (block_size,)
    for g in dict.fromkeys(lens):
        if g > block_size:
            raise BenchError(f"fixed γ = {g}: the bundle's drafter proposes {block_size} tokens per block")
        arms.append(Arm(f"fixed-{g}", recipe_scheduler.model_copy(update={"mode": "fixed", "fixed_len": g})))
    arms.append(Arm("threshold", recipe_scheduler.model_copy(update={"mode": "threshold"})))
    if has_costs:
        arms.append(Arm("cost", recipe_scheduler.model_copy(update={"mode": "cost"})))
    else:
        notes.append("the bundle has no measured cost table: the cost arm is left out")
    return arms, notes


def peer_arms(config: BenchConfig) -> list[Arm]:
    """The peers (transformers, llama.cpp), and the server at `config.url` when there is one."""
    return ([Arm(p if p == "llama-cpp" else f"hf-{p}", peer=p) for p in config.peers]
            + ([Arm("server", url=config.url)] if config.url else []))


def select(arms: list[Arm], names: tuple[str, ...]) -> list[Arm]:
    """Keep the named arms; an unknown name is an error listing the available ones."""
    if not names:
        return arms
    known = [a.name for a in arms]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BenchError(f"unknown arm(s) {unknown}; this bundle has {known}")
    return [a for a in arms if a.name in names]


def load_prompts(path: Path) -> list[str]:
    """One prompt per non-empty line; lines starting with '#' are comments."""
    if not Path(path).is_file():
        raise BenchError(f"prompt file {path} not found (one prompt per line; choose one with --prompts)")
    prompts = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if not prompts:
        raise BenchError(f"prompt file {path} has no prompts")
    return prompts
