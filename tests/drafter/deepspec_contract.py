"""What DeepSpec's loader needs from a DSpark checkpoint, restated from its source (deepseek-ai/DeepSpec, MIT,
commit afdfa7c9382a3341a3e6f17756dd816da79f132c). DeepSpec is not a package (no setup/pyproject; it pins
transformers 5.10.2, we pin 5.24.0), so the tests check exported checkpoints against this contract, and the
contract itself against a checkpoint DeepSpec's own code wrote (shared/fixtures/deepspec/ckpt_deepspec).

- `deepspec/modeling/dspark/qwen3/modeling.py`, `Qwen3DSparkModel.__init__`: asserts `required_fields`
  (REQUIRED_KEYS below); `markov_head_type` when markov_rank > 0; `confidence_head_with_markov` when
  enable_confidence_head. It reads block_size, and builds embed_tokens, layers (Qwen3DSparkDecoderLayer:
  self_attn q/k/v/o_proj, q_norm/k_norm, mlp gate/up/down_proj, input/post_attention_layernorm), norm, fc
  [H, n_taps*H] (no bias), hidden_norm, lm_head [V, H], markov_head, confidence_head (AcceptRatePredictor:
  proj Linear(H + r, 1) with bias). `Qwen3DSparkAttention` reads `config.layer_types[layer_idx]`.
- `deepspec/modeling/dspark/markov_head.py`, `VanillaMarkov`: markov_w1 Embedding(V, r), markov_w2
  Linear(r, V, bias=False).
- `deepspec/modeling/dspark/qwen3/config.py`, `build_draft_config`: writes architectures
  ["Qwen3DSparkModel"], num_target_layers, num_hidden_layers, block_size, tie_word_embeddings false,
  layer_types all "full_attention", mask_token_id, target_layer_ids, num_anchors, enable_confidence_head,
  confidence_head_with_markov, markov_rank, markov_head_type.
- `transformers` `from_pretrained` initialises any module tensor missing from the file at random (the issue's
  "embeddings/lm_head missing"): every tensor below must be in the file.
"""

REQUIRED_KEYS = ("target_layer_ids", "mask_token_id", "num_anchors", "enable_confidence_head", "markov_rank",
                 "block_size", "markov_head_type", "confidence_head_with_markov", "architectures",
                 "num_hidden_layers", "layer_types", "tie_word_embeddings", "num_target_layers")
BACKBONE_KEYS = ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_attention_heads",
                 "num_key_value_heads", "head_dim", "rms_norm_eps", "attention_bias", "hidden_act", "rope_parameters")


def expected_tensors(cfg: dict) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor a Qwen3DSparkModel built from config.json `cfg` holds in its state dict."""
    H, V, r = cfg["hidden_size"], cfg["vocab_size"], cfg["markov_rank"]
    D = cfg.get("head_dim") or H // cfg["num_attention_heads"]
    q, kv, inter = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D, cfg["intermediate_size"]
    out = {"embed_tokens.weight": (V, H), "norm.weight": (H,), "fc.weight": (H, len(cfg["target_layer_ids"]) * H),
           "hidden_norm.weight": (H,), "lm_head.weight": (V, H), "markov_head.markov_w1.weight": (V, r),
           "markov_head.markov_w2.weight": (V, r), "confidence_head.proj.weight": (1, H + r),
           "confidence_head.proj.bias": (1,)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"layers.{i}."
        out.update({p + "self_attn.q_proj.weight": (q, H), p + "self_attn.k_proj.weight": (kv, H),
                    p + "self_attn.v_proj.weight": (kv, H), p + "self_attn.o_proj.weight": (H, q),
                    p + "self_attn.q_norm.weight": (D,), p + "self_attn.k_norm.weight": (D,),
                    p + "mlp.gate_proj.weight": (inter, H), p + "mlp.up_proj.weight": (inter, H),
                    p + "mlp.down_proj.weight": (H, inter), p + "input_layernorm.weight": (H,),
                    p + "post_attention_layernorm.weight": (H,)})
    return out


def check_loadable(cfg: dict, tensors: dict) -> None:
    """Assert that config.json `cfg` and the file's tensors (name -> tensor) satisfy DeepSpec's Qwen3 loader."""
    missing = [k for k in REQUIRED_KEYS + BACKBONE_KEYS if k not in cfg]
    assert not missing, f"config.json lacks {missing}"
    assert cfg["architectures"] == ["Qwen3DSparkModel"] and cfg["markov_head_type"] == "vanilla"
    assert cfg["enable_confidence_head"] is True and cfg["confidence_head_with_markov"] is True
    assert cfg["layer_types"] == ["full_attention"] * cfg["num_hidden_layers"]
    assert cfg["tie_word_embeddings"] is False and isinstance(cfg["num_anchors"], int)
    assert all(0 <= j < cfg["num_target_layers"] for j in cfg["target_layer_ids"])
    want = expected_tensors(cfg)
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    assert set(got) == set(want), f"missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}"
    bad = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not bad, f"shapes differ: {bad}"
