"""Requests validated at the door: everything a caller hands the batcher is checked before it can reach an
engine, so one bad request is a `GenerationError` for its caller and never a failure of the batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dspark_compile.errors import GenerationError
from dspark_compile.runtime.sampling import SamplingParams, _is_int


def check_prompt(prompt, vocab_size: int) -> list[int]:
    """Token ids as a list of ints in [0, vocab_size); a str, floats, bools or out-of-range ids are refused."""
    if isinstance(prompt, (str, bytes)) or not isinstance(prompt, (Sequence, np.ndarray)):
        raise GenerationError(f"a prompt of token ids must be a list of integers, got {type(prompt).__name__}"
                              + (" (encode text first, e.g. Runtime.encode)" if isinstance(prompt, str) else ""))
    ids = list(prompt.tolist() if isinstance(prompt, np.ndarray) else prompt)
    if not ids:
        raise GenerationError("the prompt is empty: at least one token is needed")
    bad = next((i for i, t in enumerate(ids) if not _is_int(t) or not 0 <= t < vocab_size), None)
    if bad is not None:
        raise GenerationError(f"prompt token {bad} = {ids[bad]!r}: token ids are integers in [0, {vocab_size}) "
                              "(this bundle's vocabulary)")
    return [int(t) for t in ids]


def check_request(prompt, max_new_tokens, sampling, stop, vocab_size: int, max_context: int, block: int,
                  can_stop: bool) -> tuple[list[int], tuple[str, ...]]:
    """The validated prompt and stop strings of a request, or a GenerationError naming what is wrong."""
    ids = check_prompt(prompt, vocab_size)
    if not _is_int(max_new_tokens) or max_new_tokens < 1:
        raise GenerationError(f"max_new_tokens = {max_new_tokens!r}: must be an integer >= 1")
    if not isinstance(sampling, SamplingParams):
        raise GenerationError(f"sampling must be a SamplingParams, got {type(sampling).__name__}")
    if sampling.top_k > vocab_size:
        raise GenerationError(f"top_k = {sampling.top_k}: at most the vocabulary size {vocab_size} (0 is off)")
    if isinstance(stop, str) or not isinstance(stop, Sequence) or not all(isinstance(s, str) for s in stop):
        raise GenerationError(f"stop must be a list of strings, got {stop!r}")
    if stop and not can_stop:
        raise GenerationError("stop strings need a tokenizer to read the text (use Runtime.batcher)")
    if any(not s for s in stop):
        raise GenerationError("a stop string is empty")
    need = len(ids) + max_new_tokens + block + 1
    if need > max_context:
        raise GenerationError(f"a prompt of {len(ids)} tokens plus {max_new_tokens} new tokens (and one verify "
                              f"window of {block + 1}) needs a context of {need}; this bundle holds {max_context} "
                              "(shapes.max_context in the recipe)")
    return ids, tuple(stop)
