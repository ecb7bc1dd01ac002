"""Conformance with the reference implementation's own artifacts (`../shared/fixtures/deepspec`, see its
README): a drafter written by DeepSpec's code (bf16, `save_pretrained` layout, embed/lm_head inside), its
tiny Qwen3 target, and DeepSpec's outputs for two drafting rounds (round 1: 20 context rows, empty cache;
round 2: two drafts accepted, 3 new context rows on the cached 20).

The checkpoint builds into a bundle with `precision: fp32` and `fp16` taking taps, block size, mask and
Markov rank from the checkpoint (the recipe says nothing about them), and our PyTorch drafter, our unfused
ONNX drafter and the bundle's fused ONNX drafter (DraftSample) reproduce DeepSpec's block hidden states,
base and Markov-corrected logits, greedy drafts and confidences: fp32 to 1e-5; fp16/bf16 against
DeepSpec's bf16 run within `bf16_tol` (two bf16 units in the last place at the output's largest magnitude:
DeepSpec's values are bf16-rounded and ours are rounded again in fp16/bf16, one unit each).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import yaml

from dspark_compile.build import build_bundle
from dspark_compile.bundle import load_bundle
from dspark_compile.config import load_recipe
from dspark_compile.drafter import confidence_logits, draft_step, export_drafter, load_drafter, markov_logits
from dspark_compile.models import from_hf_model

from tests.helpers import deepspec_fixtures

FP32_TOL = 1e-5
BF16_EPS = torch.finfo(torch.bfloat16).eps  # 2^-7: one unit in the last place at magnitude 1..2


def bf16_tol(reference: torch.Tensor) -> float:
    return 2 * BF16_EPS * max(1.0, float(reference.abs().max()))


@pytest.fixture(scope="module")
def fixtures():
    path = deepspec_fixtures()
    return path, torch.load(path / "inputs.pt", weights_only=False)


def _recipe(tmp_path, fixtures_dir, precision):
    data = {"schema": 1, "name": f"deepspec-fixture-{precision}",
            "target": {"source": "hf", "path": str(fixtures_dir / "target")},
            "draft": {"source": "checkpoint", "path": str(fixtures_dir / "ckpt_deepspec")},
            "precision": precision, "shapes": {"max_batch": 2, "max_context": 128, "prefill_chunk": 16}}
    path = tmp_path / f"{precision}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_recipe(path)


@pytest.fixture(scope="module")
def bundles(fixtures, tmp_path_factory):
    """The fixture checkpoint built into a bundle in fp32 and in fp16 (once per module)."""
    root = tmp_path_factory.mktemp("deepspec_bundles")
    return {p: load_bundle(build_bundle(_recipe(root, fixtures[0], p), root / p), verify=False)
            for p in ("fp32", "fp16")}


def _torch_drafter(fixtures_dir, dtype):
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(fixtures_dir / "target", dtype=torch.float32).eval()
    target = from_hf_model(hf, [1, 2, 3]).to(dtype)
    return load_drafter(fixtures_dir / "ckpt_deepspec", target)


def _rounds(inputs):
    """(anchor position, first context row, end) of DeepSpec's two rounds (its README)."""
    N = inputs["N"]
    return ((N, 0, N), (N + 3, N, N + 3))


def _run_rounds(step, inputs, dtype):
    """Drive `step(ctx, positions, counts, lengths, anchor, anchor_position, kv) -> (outs, new_kv)` through
    both rounds with the runtime's cache discipline (new context rows appended); returns outs per round."""
    seq, taps = inputs["seq"], inputs["taps"].to(dtype)
    kv, length, results = None, 0, []
    for start, lo, hi in _rounds(inputs):
        outs, new = step(taps[:, lo:hi], torch.arange(lo, hi)[None], torch.tensor([hi - lo]),
                         torch.tensor([length]), seq[:, start].int(), torch.tensor([start]), kv)
        kv = new if kv is None else [torch.cat((a, b), 2) for a, b in zip(kv, new)]
        length = hi
        results.append(outs)
    return results


def _greedy_uniforms():
    return dict(temperature=torch.zeros(1), top_k=torch.zeros(1, dtype=torch.int32), top_p=torch.ones(1))


def _check(ref, hidden, logits, tokens, conf_logit, tol):
    """Our block hidden [1, γ, H], base logits [1, γ, V], greedy drafts [1, γ] and confidence logits [1, γ]
    against DeepSpec's round `ref`. Markov-corrected logits and confidences are teacher-forced on DeepSpec's
    drafts; where our greedy draft differs (bf16 near-ties), DeepSpec's token must be within tolerance of our
    best corrected logit."""
    def close(name, ours, theirs):
        err = float((torch.as_tensor(ours).float() - theirs.float()).abs().max())
        assert err <= tol(theirs), f"{name}: max |ours - DeepSpec| = {err:.3g} > {tol(theirs):.3g}"

    close("block_hidden", hidden, ref["block_hidden"])
    close("base_logits", logits, ref["base_logits"])
    prev = torch.cat((torch.tensor([[ref["anchor"]]]), ref["tokens"][:, :-1]), 1)  # [1, γ]
    corrected = logits.float() + (ref["bias_table"][prev[0]])[None]  # DeepSpec's own Markov bias table
    close("corrected_logits", corrected, ref["corrected"])
    if conf_logit is not None:
        close("confidence_logits", conf_logit, ref["conf_logits"])
    tokens = torch.as_tensor(tokens).long()
    if not torch.equal(tokens, ref["tokens"]):
        first = int((tokens != ref["tokens"]).int().argmax())  # later slots follow a different prefix
        z = corrected[0, first]
        gap = float(z.max() - z[ref["tokens"][0, first]])
        assert gap <= tol(ref["corrected"]), f"slot {first}: DeepSpec's draft is {gap:.3g} below our best logit"
    return tokens


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=["fp32", "bf16", "fp16"])
def test_pytorch_drafter_reproduces_deepspec(fixtures, dtype):
    path, inputs = fixtures
    d = _torch_drafter(path, dtype)
    assert (d.config.target_layer_ids, d.block_size, d.mask_token_id, d.config.markov_rank) == ((1, 2, 3), 7, 3, 16)
    reference = torch.load(path / f"ds_out_{'fp32' if dtype == torch.float32 else 'bf16'}.pt", weights_only=False)
    tol = (lambda _: FP32_TOL) if dtype == torch.float32 else bf16_tol

    def step(*args):
        *ctx, kv = args
        kv = kv or [torch.zeros(1, d.num_kv_heads, 0, d.head_dim, dtype=dtype) for _ in d.kv_names()]
        with torch.no_grad():
            logits, hidden, *new = d(*ctx, *kv)
        return (logits, hidden), new

    for ref, (logits, hidden) in zip(reference, _run_rounds(step, inputs, dtype)):
        prev = torch.cat((torch.tensor([[ref["anchor"]]]), ref["tokens"][:, :-1]), 1)
        out = draft_step(d, logits, hidden, torch.tensor([ref["anchor"]]), **_greedy_uniforms(),
                         uniforms=torch.zeros(1, d.block_size))
        _check(ref, hidden, logits, out.draft_tokens, confidence_logits(d, hidden, prev), tol)
        # markov_logits is the torch twin DraftSample is checked against: same as DeepSpec's table
        assert float((markov_logits(d, logits, prev) - ref["corrected"]).abs().max()) <= tol(ref["corrected"])


def _ort_step(session, dtype, kv_names, fused):
    np_dtype = np.float16 if dtype == torch.float16 else np.float32
    names = [o.name for o in session.get_outputs()]
    shapes = {i.name: i.shape for i in session.get_inputs()}

    def step(ctx, positions, counts, lengths, anchor, anchor_position, kv):
        feeds = dict(ctx_taps=ctx.numpy().astype(np_dtype), ctx_positions=positions.numpy(),
                     ctx_counts=counts.numpy(), past_lengths=lengths.numpy(), anchor=anchor.numpy(),
                     anchor_position=anchor_position.numpy())
        for n in kv_names:
            _, hkv, _, dim = shapes[f"past_{n}"]
            feeds[f"past_{n}"] = (kv[kv_names.index(n)].numpy() if kv else np.zeros((1, hkv, 0, dim), np_dtype))
        if fused:
            G = shapes["lagged_survivals"][1]  # γ (uniforms: the S slots to draft)
            feeds.update(temperature=np.zeros(1, np.float32), top_k=np.zeros(1, np.int32),
                         top_p=np.ones(1, np.float32), uniforms=np.zeros((1, G), np.float32))
            schedule = dict(lagged_survivals=np.ones((1, G), np.float32), cost_table=np.ones(G + 1, np.float32),
                            active=np.ones(1, np.int32))  # the drafter graph's Schedule inputs, where it has them
            feeds.update({k: v for k, v in schedule.items() if k in shapes})
        out = dict(zip(names, session.run(None, feeds)))
        return out, [torch.from_numpy(out[f"new_{n}"]) for n in kv_names]

    return step


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_checkpoint_builds_and_onnx_drafters_reproduce_deepspec(fixtures, bundles, tmp_path, precision):
    """The built bundle took everything from the checkpoint; the unfused graph's block outputs and the
    bundle's fused drafter (DraftSample: greedy drafts and confidences) match DeepSpec's run."""
    path, inputs = fixtures
    bundle = bundles[precision]
    assert bundle.model["tap_layers"] == [1, 2, 3] and bundle.manifest["drafter"]["block_size"] == 7
    dtype = torch.float32 if precision == "fp32" else torch.float16
    reference = torch.load(path / f"ds_out_{'fp32' if precision == 'fp32' else 'bf16'}.pt", weights_only=False)
    tol = (lambda _: FP32_TOL) if precision == "fp32" else bf16_tol
    d = _torch_drafter(path, dtype)
    kv_names = list(d.kv_names())
    plain = export_drafter(d, tmp_path, fused=False)
    unfused = ort.InferenceSession(str(tmp_path / plain.files[0]), providers=["CPUExecutionProvider"])
    fused = ort.InferenceSession(str(bundle.path(bundle.engine("drafter")["files"][0])),
                                 providers=["CPUExecutionProvider"])
    blocks = _run_rounds(_ort_step(unfused, dtype, kv_names, fused=False), inputs, dtype)
    drafts = _run_rounds(_ort_step(fused, dtype, kv_names, fused=True), inputs, dtype)
    for ref, block, draft in zip(reference, blocks, drafts):
        logits, hidden = torch.from_numpy(block["block_logits"]), torch.from_numpy(block["block_hidden"])
        tokens = _check(ref, hidden, logits, draft["draft_tokens"], None, tol)
        conf = torch.from_numpy(draft["confidences"])  # sigmoid of the confidence logit (STS temps 1.0)
        if torch.equal(tokens, ref["tokens"]):  # confidences read the previous drafts
            err = float((conf - torch.sigmoid(ref["conf_logits"])).abs().max())
            assert err <= tol(ref["conf_logits"]), f"confidences differ by {err:.3g}"


def test_threshold_mode_cuts_where_deepspec_does(fixtures):
    """Schedule's threshold mode on our survivals (products of the confidences, as DraftSample forms them)
    verifies as many drafts as DeepSpec's evaluator proposes (`_confident_prefix_length`: all when t <= 0,
    else up to the first slot whose own sigmoid(confidence) < t), for thresholds around every confidence."""
    from dspark_compile.ops import reference as R
    from dspark_compile.ops.spec import ScheduleMode

    path, _ = fixtures
    for ref in torch.load(path / "ds_out_fp32.pt", weights_only=False):
        c = torch.sigmoid(ref["conf_logits"][0]).numpy().astype(np.float32)  # [γ]
        a = np.cumprod(c, dtype=np.float32)[None]  # [1, γ]
        levels = np.sort(c)
        for t in [0.0, 1.0, *levels[:-1] / 2 + levels[1:] / 2, levels[0] / 2]:
            below = np.flatnonzero(c < np.float32(t))
            theirs = len(c) if t <= 0 or below.size == 0 else int(below[0])
            ours = R.schedule(a, a, np.ones(8, np.float32), np.ones(1, np.int32), mode=ScheduleMode.THRESHOLD,
                              threshold=float(t))
            assert ours.tolist() == [theirs], (t, c)
