"""Quantized engines stay lossless: a K-token verify pass computes the same per-position argmax as K
one-token steps (the property speculative decoding needs), speculative greedy output equals plain greedy
output of the same quantized target, and sampled output follows its distribution."""

import json

import numpy as np
import onnx
import pytest

from dspark_compile.config import SchedulerConfig
from dspark_compile.quantize.passes import _through_identities
from dspark_compile.runtime.api import Runtime
from dspark_compile.runtime.sampling import SamplingParams
from tests.runtime.conftest import _copy_drafter_bundle
from tests.runtime.test_speculative import PROMPTS, _plain, same_distribution, spec_and_plain_samples

GREEDY = SamplingParams()
SCHEMES = {  # int8 activations (accuracy_level 4, the fast CPU kernels) and fp32 activations (1)
    "int4": {"target": "int4", "drafter": "int8", "accuracy_level": 4},
    "int8": {"target": "int8", "drafter": "int4", "accuracy_level": 1},
}


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    from tests.helpers import plain_target

    root = tmp_path_factory.mktemp("quant")
    built = {}

    def get(scheme: str, gamma: int = 4):
        if (scheme, gamma) not in built:
            path = _copy_drafter_bundle(root, "llama", gamma, quantization=SCHEMES[scheme], suffix=f"-{scheme}")
            built[scheme, gamma] = (path, Runtime.load(path), plain_target(path))
        return built[scheme, gamma]

    return get


def _ops(path):
    return {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_graphs_are_quantized_and_report_their_error(quantized, scheme):
    path, _, _ = quantized(scheme)
    manifest = json.loads((path / "manifest.json").read_text())
    report = manifest["quantization"]
    for role, graph in (("target", "target.onnx"), ("target", "target_verify.onnx"), ("drafter", "drafter.onnx")):
        assert "MatMulNBits" in _ops(path / graph), graph
    bits = {"int4": 4, "int8": 8}[SCHEMES[scheme]["target"]]
    layers = report["target"]["layers"]
    assert layers and all(layer["bits"] == bits for layer in layers)
    bound = {4: 0.2, 8: 0.02}[bits]  # relative RMS error of a block-32 RTN grid on Gaussian-like weights
    assert 0 < report["target"]["max_rel_rms"] < bound, report["target"]


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_every_weight_matmul_is_quantized(quantized, scheme):
    """No MatMul with a constant weight stays float, also where the exporter reads a weight two MatMuls share
    through an Identity (the drafter's k/v projections of its block and of its context rows)."""
    path, _, _ = quantized(scheme)
    for graph in ("target.onnx", "target_verify.onnx", "drafter.onnx"):
        g = onnx.load(str(path / graph), load_external_data=False).graph
        inits = {i.name for i in g.initializer}
        producers = {o: n for n in g.node for o in n.output}
        left = [n.name for n in g.node
                if n.op_type == "MatMul" and _through_identities(n.input[1], producers) in inits]
        assert not left, (graph, left)


def _pass_vs_steps(plain, prompt, cont):
    """Logits [K, V] of one K-token pass after `prompt`, and of K one-token steps."""
    one = plain.new_cache(1, 64)
    plain.prefill(one, [np.array(prompt)], 32)
    k = len(cont)
    out = plain.step(one, np.array([cont]), np.arange(k)[None])
    steps = plain.new_cache(1, 64)
    plain.prefill(steps, [np.array(prompt)], 32)
    singles = []
    for t in cont:
        o = plain.step(steps, np.array([[t]]), np.zeros((1, 1), np.int64))
        steps.commit(o.new_kv, np.ones(1, np.int64))
        singles.append(o.logits[0, 0])
    return out.logits[0], np.stack(singles)


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_k_token_pass_equals_k_single_steps(quantized, scheme):
    _, rt, plain = quantized(scheme)
    rng = np.random.default_rng(0)
    worst_margin, worst_diff = np.inf, 0.0
    for p in PROMPTS:
        cont = rng.integers(0, 256, 8).tolist()
        big, singles = _pass_vs_steps(plain, rt.encode(p), cont)  # [K, V] each
        top2 = np.sort(singles, -1)[:, -2:]
        worst_margin = min(worst_margin, float((top2[:, 1] - top2[:, 0]).min()))
        worst_diff = max(worst_diff, float(np.abs(big - singles).max()))
        assert np.array_equal(big.argmax(-1), singles.argmax(-1))
    print(f"{scheme}: max |logit difference| {worst_diff:.3g}, smallest top-2 margin {worst_margin:.3g}")
    assert worst_diff == 0.0  # bit for bit: attention in place, no one-row kernel (see README)


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_rows_that_would_make_a_one_row_stripe_are_padded(quantized, scheme):
    """129 rows in one pass (one prompt of 129 tokens, or 3 rows of 43): MLAS's last stripe of 128 would hold one
    real row, which it multiplies with its one-row kernel (README, "Lossless with int8 activations"), so the graph
    pads exactly those (`models.base.pad_row`). The 129-token prefill in one pass, in passes of 128 + 1 and of
    64 + 64 + 1, and 3 prompts of 43 at once all leave the same logits and cache rows, bit for bit."""
    _, _, plain = quantized(scheme)
    rng = np.random.default_rng(1)
    prompt = rng.integers(0, plain.info.vocab_size, 129)
    runs = []
    for chunk in (256, 128, 64):
        cache = plain.new_cache(1, 140)
        last, _ = plain.prefill(cache, [prompt], chunk)
        runs.append((last, {n: a[:, :, :129].copy() for n, a in cache.arrays.items()}))
    for last, arrays in runs[1:]:
        np.testing.assert_array_equal(last, runs[0][0])
        for n, a in arrays.items():
            np.testing.assert_array_equal(a, runs[0][1][n])
    three = [rng.integers(0, plain.info.vocab_size, 43) for _ in range(3)]
    together = plain.new_cache(3, 50)
    last3, _ = plain.prefill(together, three, 64)  # 3 x 43 = 129 rows in one pass
    for b, p in enumerate(three):
        alone = plain.new_cache(1, 50)
        last1, _ = plain.prefill(alone, [p], 64)  # 43 rows
        np.testing.assert_array_equal(last3[b], last1[0])


@pytest.mark.parametrize("scheme", list(SCHEMES))
@pytest.mark.parametrize("mode", ["fixed", "cost"])
def test_greedy_speculative_equals_plain(quantized, scheme, mode):
    _, rt, plain = quantized(scheme)
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=SchedulerConfig(mode=mode))
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    if mode == "fixed":
        assert res.metrics()["tau"] > 1.1  # drafts were accepted: multi-token commits ran


def test_sampled_sequences_follow_the_plain_distribution(quantized):
    _, rt, plain = quantized("int4", 2)
    assert same_distribution(*spec_and_plain_samples(rt, plain, rt.encode("abab")))


def test_a_draft_vocabulary_lm_head_is_quantized_with_the_drafter(tmp_path):
    """The drafter's lm_head over its draft vocabulary reads rows of the target's embedding (Gather, then
    Transpose); an int8 drafter quantizes those rows too, and speculation stays lossless."""
    from tests.helpers import plain_target

    path = _copy_drafter_bundle(tmp_path, "llama", 4, draft_vocab=True,
                                quantization={"drafter": "int8", "accuracy_level": 4}, suffix="-int8")
    graph = onnx.load(str(path / "drafter.onnx"), load_external_data=False).graph
    producers = {o: n for n in graph.node for o in n.output}
    rows = {o for n in graph.node if n.op_type == "Gather" for o in n.output}  # embedding rows
    assert not [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in producers
                and producers[n.input[1]].op_type == "Transpose"
                and producers[n.input[1]].input[0] in rows]  # no float lm_head left
    shared = {i.name: {e.key: e.value for e in i.external_data} for i in graph.initializer if i.external_data}
    assert shared["embed_tokens.weight"]["location"] == "target.weights"  # still the target's one copy
    vd = next(i.dims[0] for i in graph.initializer if i.name == "draft_vocab")
    layers = json.loads((path / "manifest.json").read_text())["quantization"]["drafter"]["layers"]
    head = [layer for layer in layers if layer["shape"][1] == vd]
    assert len(head) == 1 and head[0]["bits"] == 8 and 0 < head[0]["rel_rms"] < 0.02, layers
    rt, plain = Runtime.load(path), plain_target(path)
    ids = [rt.encode(p) for p in PROMPTS]
    res = rt.generate_ids(ids, 40, [GREEDY] * len(ids), ignore_eos=True, scheduler=SchedulerConfig(mode="fixed"))
    assert [r.tokens for r in res] == _plain(plain, ids, 40)
    assert res.metrics()["tau"] > 1.1
