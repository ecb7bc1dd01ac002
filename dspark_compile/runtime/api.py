"""Python API: load a bundle and generate text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dspark_compile.bundle import Bundle, load_bundle
from dspark_compile.engine.base import EngineOptions, load_engine
from dspark_compile.errors import GenerationError
from dspark_compile.runtime.autoregressive import decode_autoregressive
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.runtime.target import ModelInfo, TargetModel


@dataclass
class Completion:
    prompt_tokens: int
    tokens: list[int]
    text: str
    finish_reason: str
    time_to_first_token: float
    seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Runtime:
    """A loaded bundle: tokenizer and target engine."""

    def __init__(self, bundle: Bundle, options: EngineOptions = EngineOptions()):
        from transformers import AutoTokenizer

        self.bundle = bundle
        self.info = ModelInfo.from_manifest(bundle.model)
        spec = bundle.engine("target")
        engine = load_engine(spec["backend"], bundle.path(spec["files"][0]), options)
        self.target = TargetModel(engine, self.info)
        self.tokenizer = AutoTokenizer.from_pretrained(str(bundle.path(bundle.manifest["tokenizer"])))
        self.prefill_chunk = int(bundle.recipe["shapes"]["prefill_chunk"])

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None, device: str = "auto") -> "Runtime":
        """Open and verify a bundle (checksums included), then load its engines."""
        bundle = load_bundle(path)
        if threads is None:
            threads = int(bundle.recipe["runtime"]["threads"])
        return cls(bundle, EngineOptions(threads=threads, device=device))

    def encode(self, prompt: str, chat: bool = False) -> list[int]:
        """Token ids of a prompt; with `chat`, wrapped by the tokenizer's chat template as a user turn."""
        if not prompt:
            raise GenerationError("the prompt is empty")
        if chat:
            if not self.tokenizer.chat_template:
                raise GenerationError("--chat asked for, but this bundle's tokenizer has no chat template")
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                     add_generation_prompt=True, tokenize=True)
            ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        else:
            ids = self.tokenizer(prompt)["input_ids"]
        return [int(i) for i in ids]

    def generate(self, prompts: list[str], max_new_tokens: int = 64, sampling: SamplingParams = SamplingParams(),
                 chat: bool = False) -> list[Completion]:
        """Generate for all prompts as one batch (plain autoregressive decoding)."""
        if not prompts:
            raise GenerationError("no prompts given")
        if max_new_tokens < 1:
            raise GenerationError(f"max_new_tokens = {max_new_tokens}: must be >= 1")
        ids = [self.encode(p, chat) for p in prompts]
        return self.generate_ids(ids, max_new_tokens, [sampling] * len(ids))

    def generate_ids(self, ids: list[list[int]], max_new_tokens: int, sampling: list[SamplingParams],
                     ignore_eos: bool = False) -> list[Completion]:
        """Like `generate`, from token ids, with sampling settings per request; `ignore_eos` always
        generates `max_new_tokens` (for benchmarks and comparisons)."""
        decoded = decode_autoregressive(self.target, ids, max_new_tokens, sampling, self.prefill_chunk,
                                        eos_ids=() if ignore_eos else None)
        return [
            Completion(prompt_tokens=len(p), tokens=d.tokens, finish_reason=d.finish_reason,
                       text=self.tokenizer.decode(d.tokens, skip_special_tokens=True),
                       time_to_first_token=d.time_to_first_token, seconds=d.seconds)
            for p, d in zip(ids, decoded)
        ]
