"""Python API: load a bundle and generate text (speculatively when the bundle has a drafter)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from dspark_compile.bundle import Bundle, costs_key, engine_role, load_bundle
from dspark_compile.config import SchedulerConfig
from dspark_compile.engine.base import EngineOptions, load_engine
from dspark_compile.errors import BundleError, EngineError, GenerationError
from dspark_compile.runtime.drafter import DRAFT_VOCAB_FILE, DrafterInfo, DrafterModel, draft_vocabulary
from dspark_compile.runtime.rows import RowStats
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.batcher import generate
from dspark_compile.runtime.cost_table import CostTable, check_binding
from dspark_compile.runtime.scheduler import Scheduler
from dspark_compile.runtime.target import ModelInfo, TargetModel


@dataclass
class Completion:
    prompt_tokens: int
    tokens: list[int]
    text: str
    finish_reason: str
    stats: RowStats

    def to_dict(self) -> dict:
        s = self.stats
        rounds = max(s.rounds, 1)
        return {
            "prompt_tokens": self.prompt_tokens, "tokens": self.tokens, "text": self.text,
            "finish_reason": self.finish_reason, "time_to_first_token": round(s.time_to_first_token, 4),
            "seconds": round(s.seconds, 4), "rounds": s.rounds,
            "tau": round((len(self.tokens) - 1) / rounds, 3) if s.rounds else None,
        }


class Results(list):
    """The completions of one `generate` call (a list), with the batch's timings and metrics."""

    def __init__(self, completions: list[Completion], timings: dict[str, float], block_size: int):
        super().__init__(completions)
        self.timings = timings
        self.block_size = block_size

    def metrics(self) -> dict:
        from dspark_compile.runtime.metrics import summarise

        return summarise([c.tokens for c in self], [c.stats for c in self], self.timings, self.block_size)


def default_backend(bundle: Bundle) -> str:
    """'tensorrt' when the bundle holds TensorRT plans (built for the device it is on), else 'onnxruntime'."""
    return "tensorrt" if engine_role("verify", "tensorrt") in bundle.manifest["engines"] else "onnxruntime"


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class Runtime:
    """A loaded bundle: tokenizer, the Verify-fused target engine and, when present, the drafter."""

    def __init__(self, bundle: Bundle, options: EngineOptions = EngineOptions(), backend: str | None = None):
        from transformers import AutoTokenizer

        self.bundle = bundle
        self.backend = backend or default_backend(bundle)
        if engine_role("verify", self.backend) not in bundle.manifest["engines"]:
            raise BundleError(f"{bundle.root}: the bundle has no {self.backend} engines; build them on this machine "
                              f"with: dspark-compile engines {bundle.root} --backend {self.backend}")
        try:
            self.info = ModelInfo.from_manifest(bundle.model)
        except (KeyError, TypeError, ValueError) as exc:  # (a digest-correct manifest from a broken writer)
            raise BundleError(f"{bundle.root}: the manifest's 'model' section is malformed: {exc}") from None
        speculates = "drafter" in bundle.manifest["engines"]
        # with a drafter the two engines take turns: neither one's workers may spin into the other's run
        options = replace(options, yield_after_run=options.yield_after_run or speculates)
        self.target = TargetModel(self._engine("verify", options), self.info)
        self.drafter = None
        self.costs = None
        if speculates:
            self.drafter = DrafterModel(self._engine("drafter", options),
                                        DrafterInfo.from_manifest(bundle.manifest["drafter"]),
                                        draft_vocabulary(bundle.path(DRAFT_VOCAB_FILE), self.info.vocab_size))
            costs = bundle.manifest.get(costs_key(self.backend))
            if costs is not None:
                check_binding(costs, bundle.manifest, engine_role("verify", self.backend),
                              engine_role("drafter", self.backend))
                self.costs = CostTable.from_manifest(costs)
        self.tokenizer = AutoTokenizer.from_pretrained(str(bundle.path(bundle.manifest["tokenizer"])))
        self.prefill_chunk = int(bundle.recipe["shapes"]["prefill_chunk"])
        self.scheduler_config = SchedulerConfig(**bundle.recipe["speculation"]["scheduler"])
        self.max_batch = int(bundle.recipe["shapes"]["max_batch"])
        self._schedulers: dict[SchedulerConfig, Scheduler] = {}

    def _engine(self, role: str, options: EngineOptions):
        spec = self.bundle.engine(engine_role(role, self.backend))
        try:
            return load_engine(spec["backend"], self.bundle.path(spec["files"][0]), options)
        except EngineError as exc:
            if self.backend == "onnxruntime":
                raise
            raise EngineError(f"{exc} (the bundle's ONNX graphs run anywhere: --backend onnxruntime)") from None

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None, device: str = "auto",
             backend: str | None = None) -> "Runtime":
        """Open and verify a bundle (checksums included), then load its engines: TensorRT plans when the
        bundle has them (`dspark-compile engines`), else the ONNX graphs in ONNX Runtime; `backend` chooses."""
        cpus = os.cpu_count() or 1
        if threads is not None and (not isinstance(threads, int) or not 0 <= threads <= cpus):
            raise GenerationError(f"threads = {threads!r}: must be in [0, {cpus}] (this machine's CPUs; 0 lets the "
                                  "backend choose)")
        bundle = load_bundle(path)
        if threads is None:  # the recipe's value, made on another machine perhaps: capped, not refused
            threads = min(int(bundle.recipe["runtime"]["threads"]), cpus)
        return cls(bundle, EngineOptions(threads=threads, device=device), backend)

    def scheduler(self, config: SchedulerConfig | None = None) -> Scheduler:
        """The scheduler for this bundle (the recipe's, or `config`); 'off' when there is no drafter. One per
        setting for the runtime's lifetime: the cost mode's guard keeps what it learnt across batches."""
        config = config or self.scheduler_config
        if self.drafter is None:
            if config.mode != "off" and config is not self.scheduler_config:
                raise GenerationError(f"scheduler mode '{config.mode}' needs a drafter; this bundle has none")
            config = SchedulerConfig(mode="off")
        cost = self.costs if config.mode == "cost" else None
        sched = self._schedulers.get(config)
        if sched is None or sched.cost is not cost:  # (a new cost table starts a new guard)
            block = self.drafter.info.block_size if self.drafter else 0
            sched = self._schedulers[config] = Scheduler(config, block, cost)
        return sched

    def encode(self, prompt: str, chat: bool = False) -> list[int]:
        """Token ids of a prompt; with `chat`, wrapped by the tokenizer's chat template as a user turn."""
        if not isinstance(prompt, str):
            raise GenerationError(f"a prompt must be a str, got {type(prompt).__name__}")
        if not prompt:
            raise GenerationError("the prompt is empty")
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError as exc:  # e.g. undecodable bytes on the command line (surrogate escapes)
            raise GenerationError(f"the prompt is not valid UTF-8 text (character {exc.start})") from None
        if chat:
            return self.encode_chat([{"role": "user", "content": prompt}])
        return [int(i) for i in self.tokenizer(prompt)["input_ids"]]

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of a conversation ({"role", "content"} dicts) by the tokenizer's chat template, ready
        for the assistant's turn."""
        if not self.tokenizer.chat_template:
            raise GenerationError("a chat was asked for, but this bundle's tokenizer has no chat template")
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        return [int(i) for i in ids]

    def decode(self, tokens: list[int], finish_reason: str | None = None, stop: tuple[str, ...] = ()) -> str:
        """The text of generated tokens (special tokens skipped); for a request that ended at a stop string
        (`finish_reason` "stop"), without the stop string and what follows it."""
        return self._text(tokens, finish_reason, stop)

    def generate(self, prompts: list[str], max_new_tokens: int = 64, sampling: SamplingParams = SamplingParams(),
                 chat: bool = False, scheduler: SchedulerConfig | None = None, stop: tuple[str, ...] = ()) -> Results:
        """Generate for all prompts (batched, at most the bundle's max_batch at a time); a request ends at
        EOS, after `max_new_tokens`, or where its text completes a `stop` string (cut before it)."""
        if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)):
            raise GenerationError(f"prompts must be a list of strings, got {type(prompts).__name__}"
                                  + (" (wrap a single prompt in a list)" if isinstance(prompts, str) else ""))
        if not prompts:
            raise GenerationError("no prompts given")
        ids = [self.encode(p, chat) for p in prompts]
        return self.generate_ids(ids, max_new_tokens, [sampling] * len(ids), scheduler=scheduler, stop=stop)

    def _detokenize(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _text(self, tokens: list[int], reason: str, stop: tuple[str, ...]) -> str:
        """The completion's text; a stop string and what follows it are not part of it."""
        text = self._detokenize(tokens)
        if reason == "stop":
            text = text[: min(text.index(s) for s in stop if s in text)]
        return text

    def batcher(self, scheduler: SchedulerConfig | None = None, ignore_eos: bool = False,
                max_batch: int | None = None):
        """A continuous batcher over this bundle: `submit` requests at any time, `step` it, `cancel` requests.
        `max_batch` (default: the recipe's) may exceed the recipe's on ONNX Runtime, whose graphs take any
        batch; TensorRT plans stop at the batch they were built for."""
        from dspark_compile.runtime.batcher import Batcher

        rows = self.max_batch if max_batch is None else max_batch
        if not _is_count(rows) or (self.backend != "onnxruntime" and rows > self.max_batch):
            raise GenerationError(f"max_batch = {max_batch!r}: must be an integer >= 1"
                                  + ("" if self.backend == "onnxruntime" else
                                     f" and at most {self.max_batch} (the {self.backend} engines' batch)"))
        sched = self.scheduler(scheduler)
        return Batcher(self.target, self.drafter if sched.speculates else None, sched, rows,
                       self.prefill_chunk, eos_ids=() if ignore_eos else None, detokenize=self._detokenize)

    def stream(self, prompts: list[str], max_new_tokens: int = 64, sampling: SamplingParams = SamplingParams(),
               chat: bool = False, scheduler: SchedulerConfig | None = None, stop: tuple[str, ...] = ()):
        """Yield (prompt index, new text, finish reason or None) as tokens arrive, all prompts batched."""
        batcher = self.batcher(scheduler)
        if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or not prompts:
            raise GenerationError("prompts must be a non-empty list of strings")
        requests = [batcher.submit(self.encode(p, chat), max_new_tokens, sampling, tuple(stop)) for p in prompts]
        index = {id(r): i for i, r in enumerate(requests)}
        shown = [""] * len(requests)
        while batcher.busy:
            for req in batcher.step():
                i = index[id(req)]
                text = self._text(req.tokens, req.finish_reason, tuple(stop))
                # hold back a trailing partial UTF-8 character until the next token completes it
                stable = text if req.finished else text.rstrip("\ufffd")
                if req.error is not None:
                    raise req.error
                if len(stable) > len(shown[i]) or req.finished:
                    yield i, stable[len(shown[i]):], req.finish_reason
                    shown[i] = stable

    def generate_ids(self, ids: list[list[int]], max_new_tokens: int, sampling: list[SamplingParams],
                     ignore_eos: bool = False, scheduler: SchedulerConfig | None = None,
                     stop: tuple[str, ...] = ()) -> Results:
        """Like `generate`, from token ids, with sampling settings per request; `ignore_eos` always
        generates `max_new_tokens` (for benchmarks and comparisons)."""
        if isinstance(ids, (str, bytes)) or not isinstance(ids, (list, tuple)) or not ids:
            raise GenerationError("ids must be a non-empty list of prompts, each a list of token ids")
        if isinstance(sampling, SamplingParams):
            sampling = [sampling] * len(ids)
        if not isinstance(sampling, (list, tuple)) or len(sampling) != len(ids):
            raise GenerationError(f"sampling: one SamplingParams for all prompts or one per prompt ({len(ids)}), "
                                  f"got {len(sampling) if isinstance(sampling, (list, tuple)) else type(sampling).__name__}")
        sched = self.scheduler(scheduler)
        gen = generate(self.target, self.drafter if sched.speculates else None, sched, ids, max_new_tokens,
                       sampling, self.prefill_chunk, eos_ids=() if ignore_eos else None, max_batch=self.max_batch,
                       stop=tuple(stop), detokenize=self._detokenize)
        completions = [
            Completion(prompt_tokens=len(p), tokens=d.tokens, finish_reason=d.finish_reason,
                       text=self._text(d.tokens, d.finish_reason, stop), stats=d.stats)
            for p, d in zip(ids, gen.rows)
        ]
        return Results(completions, gen.timings, sched.block_size)
