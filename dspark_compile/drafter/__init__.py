"""The DSpark block drafter: PyTorch model, reference-format checkpoints, and its ONNX export.

    config  = DrafterConfig.for_target(hf_config, num_layers=2, block_size=7)   # or from config.json
    drafter = init_drafter(config, target, seed=0)       # target: a models.DecoderLM (shares embed/lm_head)
    save_drafter(drafter, "out/"); drafter = load_drafter("out/", target)
    logits, hidden, *new_kv = drafter(ctx_taps, ctx_positions, ctx_counts, past_lengths, anchor,
                                      anchor_position, *past_kv)
    tokens, q, q_full, conf, surv = draft_step(drafter, logits, hidden, anchor, temperature, top_k, top_p, u)
    export_drafter(drafter, Path("bundle/"))             # one graph ending in dspark::DraftSample
"""

from dspark_compile.drafter.checkpoint import init_drafter, load_drafter, save_drafter
from dspark_compile.drafter.config import DrafterConfig, check_compatible, default_mask_token_id
from dspark_compile.drafter.export import DrafterGraph, export_drafter
from dspark_compile.drafter.model import DSparkDrafter
from dspark_compile.drafter.sampling import confidence_logits, draft_step, markov_logits

__all__ = [
    "DSparkDrafter",
    "DrafterConfig",
    "DrafterGraph",
    "check_compatible",
    "confidence_logits",
    "default_mask_token_id",
    "draft_step",
    "export_drafter",
    "init_drafter",
    "load_drafter",
    "markov_logits",
    "save_drafter",
]
