"""Plain decoding (the unfused graph + numpy sampling) and the runtime (Verify-fused graph, with the
bundle's drafter and scheduler) both equal transformers' own greedy decoding."""

import pytest
import torch

from dspark_compile.config import SchedulerConfig
from dspark_compile.errors import GenerationError
from dspark_compile.runtime.api import Runtime
from dspark_compile.runtime.autoregressive import decode_autoregressive
from dspark_compile.runtime.sampling import SamplingParams
from tests.conftest import FAMILIES
from tests.helpers import plain_target, tiny_hf_model

PROMPTS = ["Hello there, how are you?", "a", "The quick brown fox jumps over the lazy dog again and again."]
GREEDY = SamplingParams()


def hf_greedy(family: str, ids: list[int], n: int) -> list[int]:
    model = tiny_hf_model(family).model
    model.generation_config.eos_token_id = None  # decode exactly n tokens, like ignore_eos
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=n, do_sample=False, pad_token_id=0)
    return out[0, len(ids):].tolist()


@pytest.fixture(scope="module")
def plain(tiny_bundles):
    cache = {}

    def get(family):
        if family not in cache:
            cache[family] = plain_target(tiny_bundles(family))
        return cache[family]

    return get


@pytest.fixture(scope="module")
def runtimes(tiny_bundles):
    cache = {}

    def get(family):
        if family not in cache:
            cache[family] = Runtime.load(tiny_bundles(family))
        return cache[family]

    return get


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_equals_transformers(runtimes, plain, family):
    rt = runtimes(family)
    for prompt in PROMPTS[:2]:
        ids = rt.encode(prompt)
        expected = hf_greedy(family, ids, 24)
        assert decode_autoregressive(plain(family), [ids], 24, [GREEDY], eos_ids=())[0].tokens == expected, prompt
        assert rt.generate_ids([ids], 24, [GREEDY], ignore_eos=True)[0].tokens == expected, prompt


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_rows_equal_single_rows(runtimes, family):
    rt = runtimes(family)
    ids = [rt.encode(p) for p in PROMPTS]
    batched = rt.generate_ids(ids, 16, [GREEDY] * len(ids), ignore_eos=True)
    for row, single_ids in zip(batched, ids):
        assert row.tokens == rt.generate_ids([single_ids], 16, [GREEDY], ignore_eos=True)[0].tokens


def test_prefill_in_chunks_equals_one_pass(runtimes, plain):
    rt = runtimes("llama")
    ids = [rt.encode(PROMPTS[2])]  # 60 tokens; the tiny recipe prefills in chunks of 32
    chunked = decode_autoregressive(plain("llama"), ids, 8, [GREEDY], prefill_chunk=32, eos_ids=())[0].tokens
    whole = decode_autoregressive(plain("llama"), ids, 8, [GREEDY], prefill_chunk=1000, eos_ids=())[0].tokens
    tiny = decode_autoregressive(plain("llama"), ids, 8, [GREEDY], prefill_chunk=7, eos_ids=())[0].tokens
    assert chunked == whole == tiny
    rt.prefill_chunk = 7
    try:
        assert rt.generate_ids(ids, 8, [GREEDY], ignore_eos=True)[0].tokens == chunked
    finally:
        rt.prefill_chunk = 32


def test_sampling_is_seeded(runtimes):
    rt = runtimes("llama")
    ids = [rt.encode("seeded")]

    def sample(**kw):  # plain decoding: the tiny bundle has a drafter, and a cost guard's state outlives a call
        return rt.generate_ids(ids, 20, [SamplingParams(**kw)], ignore_eos=True,
                               scheduler=SchedulerConfig(mode="off"))[0].tokens

    a, b, c = sample(temperature=1.0, seed=1), sample(temperature=1.0, seed=1), sample(temperature=1.0, seed=2)
    assert a == b and a != c
    assert sample(temperature=1.0, top_k=1, seed=3) == sample()  # top-k 1 is greedy at any temperature


def test_eos_stops_a_row_and_others_go_on(runtimes, plain):
    rt = runtimes("llama")
    ids = [rt.encode("stop here"), rt.encode("go on")]
    free = decode_autoregressive(plain("llama"), ids, 6, [GREEDY] * 2, eos_ids=())
    stop = free[0].tokens[2]
    out = decode_autoregressive(plain("llama"), ids, 6, [GREEDY] * 2, eos_ids=(stop,))
    assert out[0].finish_reason == "eos" and out[0].tokens == free[0].tokens[: free[0].tokens.index(stop) + 1]
    if stop not in free[1].tokens:
        assert out[1].tokens == free[1].tokens and out[1].finish_reason == "length"


def test_bad_requests(runtimes):
    rt = runtimes("llama")
    with pytest.raises(GenerationError, match="prompt is empty"):
        rt.generate([""])
    with pytest.raises(GenerationError, match="needs a context of 319; this bundle holds 256"):
        rt.generate_ids([[5] * 250], 64, [GREEDY])
    with pytest.raises(GenerationError, match="max_new_tokens"):
        rt.generate(["x"], max_new_tokens=0)
    with pytest.raises(GenerationError, match="temperature"):
        SamplingParams(temperature=-1.0)
    with pytest.raises(GenerationError, match="top_p"):
        SamplingParams(top_p=0.0)
