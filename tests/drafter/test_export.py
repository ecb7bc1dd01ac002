"""The exported drafter step in ONNX Runtime reproduces the PyTorch drafter: unfused (block logits and
hidden, new context K/V) and fused with DraftSample → Schedule (tokens identical, probabilities/confidences
close, verify lengths as the reference Schedule over the graph's own survivals), over ragged (B, T, P)
including P = 0; and the issue's end-to-end check from a reference checkpoint."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dspark_compile.drafter import draft_step, export_drafter, load_drafter, markov_logits
from dspark_compile.drafter.export import io_specs
from dspark_compile.export.target import OPSET
from dspark_compile.ops import reference, rng
from dspark_compile.ops.spec import DOMAIN, DRAFT_SAMPLE, SCHEDULE
from dspark_compile.runtime.kvcache import KVCache

from .conftest import BLOCK
from .harness import DraftCache, step_inputs
from .test_checkpoint import _write_like_deepspec

FAMILIES = ["llama", "qwen3", "gemma2", "gemma3", "gemma4_unified", "llama+draft_vocab"]
SHAPES = [(3, 4, 6), (1, 1, 9), (2, 5, 0), (4, 2, 3)]  # (B, T, P); step_inputs makes counts/lengths ragged
INPUTS = ("ctx_taps", "ctx_positions", "ctx_counts", "past_lengths", "anchor", "anchor_position")


@pytest.fixture(scope="module")
def exported(cases, tmp_path_factory):
    """(drafter, unfused session, fused session, fused model path) per family, exported once."""
    built = {}

    def get(name):
        if name not in built:
            _, _, d = cases(name)
            out = tmp_path_factory.mktemp(f"drafter_{name}")
            sessions = []
            for fused in (False, True):
                graph = export_drafter(d, out / ("fused" if fused else "plain"), fused=fused)
                path = out / ("fused" if fused else "plain") / graph.files[0]
                sessions.append(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
            built[name] = (d, *sessions, path)
        return built[name]

    return get


def _feeds(d, inputs) -> dict[str, np.ndarray]:
    names = list(INPUTS) + [f"past_{n}" for n in d.kv_names()]
    return {n: t.numpy() for n, t in zip(names, inputs)}


def _sampling(B: int, G: int, seed: int) -> dict[str, np.ndarray]:
    """Rows cycle greedy / temperature / top-k / top-p; Schedule's inputs: lagged survivals, a convex cost
    curve, the last row inactive when B > 1."""
    kind = np.arange(B) % 4
    lagged = np.cumprod(np.random.default_rng(seed).uniform(0.5, 1.0, (B, G)), axis=1).astype(np.float32)
    return dict(temperature=np.where(kind == 0, 0.0, 0.8).astype(np.float32),
                top_k=np.where(kind == 2, 5, 0).astype(np.int32),
                top_p=np.where(kind == 3, 0.7, 1.0).astype(np.float32),
                uniforms=rng.draft_uniforms(np.full(B, seed), np.arange(B), np.full(B, 3), G),
                lagged_survivals=lagged,  # [B, G]
                cost_table=(10.0 + 0.05 * np.arange(1, B * (G + 1) + 1) ** 1.5).astype(np.float32),  # [N]
                active=(np.arange(B) < max(B - 1, 1)).astype(np.int32))


def _torch_step(d, logits, hidden, anchor, sampling):
    s = {k: torch.from_numpy(v) for k, v in sampling.items()}
    return draft_step(d, logits, hidden, anchor, s["temperature"], s["top_k"], s["top_p"], s["uniforms"])


def _close(name, ours, ref, atol):
    assert ours.shape == tuple(ref.shape), name
    np.testing.assert_allclose(ours, np.asarray(ref), atol=atol, rtol=0, err_msg=name)


@pytest.mark.parametrize("name", FAMILIES)
def test_graph_is_valid_with_the_documented_io(exported, name):
    d, _, _, path = exported(name)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain: o.version for o in model.opset_import}[""] == OPSET
    inputs, outputs = io_specs(d, fused=True)
    for value, spec in zip([*model.graph.input, *model.graph.output], inputs + outputs):
        dims = [x.dim_param or x.dim_value for x in value.type.tensor_type.shape.dim]
        assert (value.name, dims) == (spec.name, list(spec.shape))
    assert [n.op_type for n in model.graph.node if n.domain == DOMAIN] == [DRAFT_SAMPLE.name, SCHEDULE.name]
    assert {f.name for f in model.functions} == {DRAFT_SAMPLE.name, SCHEDULE.name}
    schedule = next(n for n in model.graph.node if n.op_type == SCHEDULE.name)
    # the lagged survivals reach Schedule cut to the slots drafted (`draft_slots`), as the current ones are
    assert list(schedule.input) == ["survivals", "lagged_survivals.slots", "cost_table", "active"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["dspark.schedule"]) == SCHEDULE.resolve_attrs({})
    assert meta["dspark.block_size"] == str(BLOCK) and json.loads(meta["dspark.target_layer_ids"]) == list(
        d.config.target_layer_ids)


@pytest.mark.parametrize("B,T,P", SHAPES)
@pytest.mark.parametrize("name", FAMILIES)
def test_onnxruntime_reproduces_the_pytorch_drafter(exported, name, B, T, P):
    d, plain, fused, _ = exported(name)
    inputs = step_inputs(d, B, T, P, seed=B * 100 + T * 10 + P)
    with torch.no_grad():
        logits, hidden, *new_kv = d(*inputs)
    feeds = _feeds(d, inputs)
    got = plain.run(None, feeds)
    _close("block_logits", got[0], logits, 1e-4)
    _close("block_hidden", got[1], hidden, 1e-4)
    counts = inputs[2].numpy()
    for kv_name, ours, ref in zip(d.kv_names(), got[2:], new_kv):
        for b in range(B):  # rows past ctx_counts are padding the runtime never commits
            _close(kv_name, ours[b, :, : counts[b]], ref[b, :, : counts[b]], 1e-5)

    sampling = _sampling(B, d.block_size, seed=P)
    expected = _torch_step(d, logits, hidden, inputs[4], sampling)
    got_fused = fused.run(None, feeds | sampling)
    np.testing.assert_array_equal(got_fused[0], expected.draft_tokens.numpy())
    for field, ours in zip(expected._fields[1:], got_fused[1:5]):
        _close(field, ours, getattr(expected, field), 1e-5)
    for ours, theirs in zip(got_fused[5:-1], got[2:], strict=True):
        np.testing.assert_array_equal(ours, theirs)
    lengths = reference.schedule(got_fused[4], sampling["lagged_survivals"], sampling["cost_table"],
                                 sampling["active"])  # default attributes: cost mode
    np.testing.assert_array_equal(got_fused[-1], lengths)


@pytest.mark.parametrize("name", ["llama", "gemma3", "llama+draft_vocab"])
def test_drafting_s_slots_gives_the_first_s_slots_of_the_block(exported, name):
    """A pass given S-wide uniforms drafts the block's first S slots: tokens, q, q_full, confidences and survivals
    are those of the whole-block pass, bit for bit, in every sampling mode (a slot sees all γ slots whatever S
    is; its uniforms do not depend on S); new context K/V are the same; verify lengths are the reference
    Schedule's over the S slots with the lagged survivals' first S."""
    d, _, fused, _ = exported(name)
    B, G = 4, d.block_size
    inputs = step_inputs(d, B, 3, 5, seed=7)
    feeds = _feeds(d, inputs)
    sampling = _sampling(B, G, seed=11)
    names = [o.name for o in fused.get_outputs()]
    whole = dict(zip(names, fused.run(None, feeds | sampling)))
    for S in range(1, G + 1):
        cut = sampling | {"uniforms": rng.draft_uniforms(np.full(B, 11), np.arange(B), np.full(B, 3), S)}
        got = dict(zip(names, fused.run(None, feeds | cut)))
        for field in reference.DraftSampleOutputs._fields:
            assert got[field].shape[:2] == (B, S), field
            np.testing.assert_array_equal(got[field], whole[field][:, :S], err_msg=f"{field}, S={S}")
        for kv in (n for n in names if n.startswith("new_")):
            np.testing.assert_array_equal(got[kv], whole[kv])
        lengths = reference.schedule(got["survivals"], sampling["lagged_survivals"][:, :S], sampling["cost_table"],
                                     sampling["active"])
        np.testing.assert_array_equal(got["verify_lengths"], lengths)
        assert got["verify_lengths"].max() <= S


def test_fused_graph_runs_its_last_layer_on_the_drafted_slots_only(exported):
    """The traced query_slots input is gone, bound to range(S) of the uniforms' width: the final norm's output
    (what the lm_head reads) has S rows per batch row, so the last layer's queries, attention output and MLP
    ran on S slots, not γ."""
    d, _, _, path = exported("llama")
    model = onnx.load(str(path))
    assert "query_slots" not in [i.name for i in model.graph.input]
    model.graph.output.append(onnx.helper.make_tensor_value_info("block_hidden", onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    B, G = 3, d.block_size
    feeds = _feeds(d, step_inputs(d, B, 2, 4, seed=9)) | _sampling(B, G, seed=2)
    for S in (1, 3, G):
        cut = feeds | {"uniforms": feeds["uniforms"][:, :S]}
        hidden = session.run(["block_hidden"], cut)[0]
        assert hidden.shape == (B, S, d.hidden_size)


def test_reference_checkpoint_exports_and_drafts_like_pytorch(cases, tmp_path):
    """Done-when of the issue: reference-format checkpoint -> load -> export -> ONNX Runtime drafter
    steps (the runtime committing new_kv) give the PyTorch drafter's tokens and confidences."""
    _, target, original = cases("qwen3")
    _write_like_deepspec(original, target, tmp_path / "ckpt")
    loaded = load_drafter(tmp_path / "ckpt", target)
    graph = export_drafter(loaded, tmp_path / "onnx")
    session = ort.InferenceSession(str(tmp_path / "onnx" / graph.files[0]), providers=["CPUExecutionProvider"])

    B, width, gen = 3, loaded.config.num_taps * loaded.hidden_size, torch.Generator().manual_seed(11)
    reference = DraftCache(original, batch=B)
    cache = KVCache(loaded.kv_names(), 32, B, loaded.num_kv_heads, loaded.head_dim, "float32")  # the runtime's
    for step, sizes in enumerate(([6, 3, 1], [1, 4, 2], [3, 1, 5])):
        rows = [torch.randn(n, width, generator=gen) for n in sizes]
        anchor = torch.randint(0, loaded.vocab_size, (B,), generator=gen, dtype=torch.int32)
        sampling = _sampling(B, loaded.block_size, seed=step)
        logits, hidden = reference.step(rows, anchor)
        expected = _torch_step(original, logits, hidden, anchor, sampling)

        T, counts = max(sizes), np.array(sizes)
        taps = np.zeros((B, T, width), np.float32)
        for b, r in enumerate(rows):
            taps[b, : len(r)] = r.numpy()
        lengths = cache.lengths.copy()
        feeds = dict(ctx_taps=taps, ctx_positions=lengths[:, None] + np.arange(T)[None, :], ctx_counts=counts,
                     past_lengths=lengths, anchor=anchor.numpy(), anchor_position=lengths + counts,
                     **cache.past(), **sampling)
        out = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        np.testing.assert_array_equal(out["draft_tokens"], expected.draft_tokens.numpy())
        _close("confidences", out["confidences"], expected.confidences, 1e-5)
        _close("survivals", out["survivals"], expected.survivals, 1e-5)
        cache.commit({k: v for k, v in out.items() if k.startswith("new_")}, counts)  # first counts[b] of row b


def test_float16_drafter_exports_and_runs(tmp_path):
    """fp16 target and drafter (fc stays fp32): fp16 KV and hidden I/O, greedy tokens as in PyTorch."""
    from dspark_compile.drafter import DrafterConfig, init_drafter
    from dspark_compile.models import from_hf_model
    from dspark_compile.models.tiny import tiny_hf_model

    hf = tiny_hf_model("qwen3", seed=1).half()
    target = from_hf_model(hf)
    d = init_drafter(DrafterConfig.for_target(hf.config, num_layers=2, block_size=BLOCK, markov_rank=8), target,
                     norm_jitter=0.3)
    assert d.fc.weight.dtype == torch.float32 and d.norm.weight.dtype == torch.float16
    graph = export_drafter(d, tmp_path)
    assert {s.name: s.dtype for s in graph.inputs}["ctx_taps"] == "float16"
    session = ort.InferenceSession(str(tmp_path / graph.files[0]), providers=["CPUExecutionProvider"])
    inputs = list(step_inputs(d, B=3, T=3, P=4, seed=2))
    inputs[0], inputs[6:] = inputs[0].half(), [t.half() for t in inputs[6:]]
    with torch.no_grad():
        logits, hidden, *_ = d(*inputs)
    sampling = _sampling(3, BLOCK, seed=0) | {"temperature": np.zeros(3, np.float32)}  # greedy
    expected = _torch_step(d, logits, hidden, inputs[4], sampling)
    out = session.run(None, _feeds(d, inputs) | sampling)
    # fp16 logits tie often; a token may differ only where PyTorch's two candidates are within rounding.
    ours, theirs = out[0], expected.draft_tokens.numpy()
    prev = torch.cat((inputs[4][:, None], torch.from_numpy(ours[:, :-1])), dim=1)
    z = markov_logits(d, logits, prev)  # [B, γ, V] given ORT's previous tokens
    for b in range(3):
        k = int(np.argmax(ours[b] != theirs[b])) if (ours[b] != theirs[b]).any() else BLOCK
        _close("confidences", out[3][b, :k], expected.confidences[b, :k], 1e-3)
        if k < BLOCK:
            assert abs(float(z[b, k, ours[b, k]] - z[b, k, theirs[b, k]])) < 1e-2, (b, k)
    assert (ours == theirs).mean() > 0.5
