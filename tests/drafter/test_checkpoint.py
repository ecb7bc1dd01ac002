"""Reference-format checkpoints: exact tensor names/shapes, config.json keys, round trips, refusals."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import Qwen3Config

from dspark_compile.drafter import DrafterConfig, default_mask_token_id, load_drafter, save_drafter
from dspark_compile.errors import ModelError

from .conftest import BLOCK, RANK, make_case
from .harness import step_inputs

H, V, I = 64, 512, 128  # tiny configs: hidden, vocab, intermediate


def reference_names(num_layers: int, qk_norm: bool, sandwich: bool) -> set[str]:
    """The tensor names of a DeepSpec drafter checkpoint, minus the shared embed_tokens/lm_head."""
    names = {"fc.weight", "hidden_norm.weight", "norm.weight", "markov_head.markov_w1.weight",
             "markov_head.markov_w2.weight", "confidence_head.proj.weight", "confidence_head.proj.bias"}
    for i in range(num_layers):
        p = f"layers.{i}."
        names |= {p + f"self_attn.{x}_proj.weight" for x in "qkvo"}
        names |= {p + f"mlp.{x}_proj.weight" for x in ("gate", "up", "down")}
        names |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
        if qk_norm:
            names |= {p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"}
        if sandwich:
            names |= {p + "pre_feedforward_layernorm.weight", p + "post_feedforward_layernorm.weight"}
    return names


@pytest.mark.parametrize("name,qk_norm,sandwich", [("llama", False, False), ("qwen3", True, False),
                                                    ("gemma2", False, True), ("gemma3", True, True)])
def test_save_writes_exactly_the_reference_tensors(cases, tmp_path, name, qk_norm, sandwich):
    _, target, d = cases(name)
    save_drafter(d, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    tensors = load_file(str(tmp_path / "model.safetensors"))
    assert set(tensors) == reference_names(d.num_layers, qk_norm, sandwich)
    n_taps, hd = d.config.num_taps, d.head_dim
    assert tensors["fc.weight"].shape == (H, n_taps * H) and tensors["fc.weight"].dtype == torch.float32
    assert tensors["layers.0.self_attn.q_proj.weight"].shape == (4 * hd, H)
    assert tensors["layers.1.self_attn.k_proj.weight"].shape == (2 * hd, H)
    assert tensors["layers.0.mlp.down_proj.weight"].shape == (H, I)
    assert tensors["markov_head.markov_w1.weight"].shape == (V, RANK)
    assert tensors["markov_head.markov_w2.weight"].shape == (V, RANK)
    assert tensors["confidence_head.proj.weight"].shape == (1, H + RANK)
    assert tensors["confidence_head.proj.bias"].shape == (1,)
    if qk_norm:
        assert tensors["layers.0.self_attn.k_norm.weight"].shape == (hd,)

    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["architectures"] == [{"llama": "LlamaDSparkModel", "qwen3": "Qwen3DSparkModel",
                                     "gemma2": "Gemma2DSparkModel", "gemma3": "Gemma3DSparkModel"}[name]]
    expected = dict(num_hidden_layers=2, block_size=BLOCK, mask_token_id=0, target_layer_ids=list(target.tap_layers),
                    markov_rank=RANK, markov_head_type="vanilla", enable_confidence_head=True,
                    confidence_head_with_markov=True, tie_word_embeddings=False,
                    hidden_size=H, vocab_size=V, layer_types=["full_attention"] * 2)
    assert {k: cfg[k] for k in expected} == expected
    assert cfg["sts_temperatures"] == pytest.approx(d.config.sts_temperatures)


@pytest.mark.parametrize("name", ["qwen3", "gemma3_multimodal", "mistral", "gemma4_unified", "llama+draft_vocab"])
def test_round_trip_reproduces_the_drafter(cases, tmp_path, name):
    _, target, d = cases(name)
    save_drafter(d, tmp_path)
    loaded = load_drafter(tmp_path, target)
    assert loaded.config == d.config
    if d.draft_vocab is not None:  # ids kept as integers, the config records the size
        assert loaded.draft_vocab.dtype == torch.int64 and torch.equal(loaded.draft_vocab, d.draft_vocab)
        assert json.loads((tmp_path / "config.json").read_text())["draft_vocab_size"] == d.draft_vocab.numel()
    inputs = step_inputs(d, B=2, T=3, P=2, seed=4)
    with torch.no_grad():
        for a, b in zip(d(*inputs), loaded(*inputs)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert loaded.embed_tokens is target.embed_tokens


def _write_like_deepspec(d, target, path, dtype=torch.float32, nested=True, embed=None):
    """A checkpoint as the reference writes it: DSpark keys under dspark_config, embed/lm_head included."""
    path.mkdir(parents=True, exist_ok=True)
    cfg = d.config.to_json()
    keys = ("block_size", "mask_token_id", "target_layer_ids", "markov_rank", "markov_head_type",
            "enable_confidence_head", "confidence_head_with_markov")
    if nested:
        cfg["dspark_config"] = {k: cfg.pop(k) for k in keys}
    cfg.update(num_anchors=512, _attn_implementation="flex_attention")  # training-only keys, ignored
    tensors = {k: v.to(dtype) for k, v in d.own_state_dict().items()}
    tensors["embed_tokens.weight"] = (target.embed_tokens.weight if embed is None else embed).to(dtype)
    tensors["lm_head.weight"] = target.lm_head.weight.to(dtype)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(cfg))


def test_reference_checkpoint_with_shared_tensors_and_nested_keys_loads(cases, tmp_path):
    _, target, d = cases("qwen3")
    _write_like_deepspec(d, target, tmp_path / "fp32")
    loaded = load_drafter(tmp_path / "fp32", target)
    assert loaded.config == d.config
    _write_like_deepspec(d, target, tmp_path / "bf16", dtype=torch.bfloat16, nested=False)
    loaded = load_drafter(tmp_path / "bf16", target)  # a bf16 target copy is compared in bf16
    assert loaded.fc.weight.dtype == torch.float32 and loaded.norm.weight.dtype == torch.float32
    other = target.embed_tokens.weight + 1.0
    _write_like_deepspec(d, target, tmp_path / "bad", embed=other)
    with pytest.raises(ModelError, match="embed_tokens.weight' differs from the target's"):
        load_drafter(tmp_path / "bad", target)


@pytest.mark.parametrize("what,drafter_case,message", [
    ("family", dict(name="qwen3"), "family is 'qwen3' in the drafter but 'llama' in the target"),
    ("hidden", dict(name="llama", hidden_size=96), "hidden size is 96 in the drafter but 64 in the target"),
    ("vocab", dict(name="llama", vocab_size=600), "vocabulary size is 600 in the drafter but 512 in the target"),
    ("layers", dict(name="llama", num_hidden_layers=7), "target layer count is 7 in the drafter but 5 in the target"),
])
def test_mismatched_drafter_is_refused_naming_both_values(cases, tmp_path, what, drafter_case, message):
    _, _, other = make_case(**drafter_case)
    save_drafter(other, tmp_path)
    _, llama_target, _ = cases("llama")
    with pytest.raises(ModelError, match=message):
        load_drafter(tmp_path, llama_target)


def test_tap_mismatch_is_refused(cases, tmp_path):
    _, target, d = cases("llama")
    save_drafter(d, tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["target_layer_ids"] = [1, 3]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=r"tap count is 2 in the drafter but 3 in the target"):
        load_drafter(tmp_path, target)
    cfg["target_layer_ids"] = [0, 2, 3]  # same count, other layers
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=r"tapped target layers is \[0, 2, 3\] in the drafter but \[1, 2, 3\] in"):
        load_drafter(tmp_path, target)


def test_a_bad_draft_vocabulary_is_refused(cases, tmp_path):
    _, target, d = cases("llama+draft_vocab")
    save_drafter(d, tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["draft_vocab"] = tensors["draft_vocab"].flip(0).contiguous()  # not increasing
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelError, match="'draft_vocab' must hold strictly increasing target ids"):
        load_drafter(tmp_path, target)
    with pytest.raises(ModelError, match="draft vocabulary of 2 ids is invalid"):
        d.set_draft_vocab([3, 3])


def test_bad_checkpoints_say_what_is_wrong(cases, tmp_path):
    _, target, d = cases("qwen3")
    save_drafter(d, tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    cfg = json.loads((tmp_path / "config.json").read_text())

    def write(t=tensors, c=cfg):
        save_file(t, str(tmp_path / "model.safetensors"))
        (tmp_path / "config.json").write_text(json.dumps(c))

    write({k: v for k, v in tensors.items() if k != "norm.weight"})
    with pytest.raises(ModelError, match=r"missing \['norm.weight'\]"):
        load_drafter(tmp_path, target)
    write({**tensors, "markov_head.extra.weight": torch.zeros(2)})
    with pytest.raises(ModelError, match=r"unexpected \['markov_head.extra.weight'\]"):
        load_drafter(tmp_path, target)
    write({**tensors, "markov_head.markov_w1.weight": torch.zeros(V, RANK + 1)})
    with pytest.raises(ModelError, match=r"'markov_head.markov_w1.weight' has shape \[512, 9\], expected \[512, 8\]"):
        load_drafter(tmp_path, target)
    for key, value, match in [("markov_head_type", "mlp", "markov_head_type='mlp' is not supported"),
                              ("confidence_head_with_markov", False, "confidence_head_with_markov=False"),
                              ("architectures", ["Qwen3ForCausalLM"], "not a DSpark drafter"),
                              ("sts_temperatures", [1.0, 2.0], "sts_temperatures=.*4 values > 0"),
                              ("mask_token_id", 512, r"mask_token_id=512 is invalid; allowed: an id in \[0, 512\)")]:
        write(tensors, {**cfg, key: value})
        with pytest.raises(ModelError, match=match):
            load_drafter(tmp_path, target)
    write(tensors, {k: v for k, v in cfg.items() if k != "block_size"})
    with pytest.raises(ModelError, match="missing key 'block_size'"):
        load_drafter(tmp_path, target)
    write(tensors, {**cfg, "dspark_config": {"block_size": 5}})
    with pytest.raises(ModelError, match="'block_size' is 4 at the top level but 5 in dspark_config"):
        load_drafter(tmp_path, target)
    with pytest.raises(ModelError, match="no config.json"):
        load_drafter(tmp_path / "nowhere", target)


def test_mask_token_choice():
    big = Qwen3Config(vocab_size=151936, pad_token_id=151643)
    assert default_mask_token_id(big) == 151669  # Qwen3's reserved mask token
    assert default_mask_token_id(Qwen3Config(vocab_size=512, pad_token_id=7)) == 7  # no reserved id: pad
    assert default_mask_token_id(Qwen3Config(vocab_size=512, pad_token_id=None)) == 511  # else the last id
    config = DrafterConfig.for_target(Qwen3Config(vocab_size=512), num_layers=1, block_size=3, markov_rank=4,
                                      mask_token_id=42, target_layer_ids=[0, 1])
    assert config.mask_token_id == 42 and config.sts_temperatures == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("config, weights, message", [
    ([], None, "a drafter config is a JSON object, got list"),  # before: AttributeError traceback
    ("num_hidden_layers", None, "malformed drafter config"),  # a value int() cannot read
    (None, 1000, "cannot read the weights (truncated or not safetensors)"),  # before: SafetensorError traceback
])
def test_malformed_checkpoints_are_model_errors(cases, tmp_path, config, weights, message):
    _, target, d = cases("qwen3")
    save_drafter(d, tmp_path)
    if config == []:
        (tmp_path / "config.json").write_text("[]")
    elif config is not None:
        cfg = json.loads((tmp_path / "config.json").read_text())
        cfg[config] = {"not": "a number"}
        (tmp_path / "config.json").write_text(json.dumps(cfg))
    if weights is not None:
        data = (tmp_path / "model.safetensors").read_bytes()
        (tmp_path / "model.safetensors").write_bytes(data[:weights])
    with pytest.raises(ModelError) as err:
        load_drafter(tmp_path, target)
    assert message in str(err.value)
