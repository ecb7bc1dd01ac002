"""A Gemma 4 target (12B's model_type and features, tiny) through build and the runtime: its full-attention
layers' KV tensors are wider than the sliding ones' (manifest `kv_shapes`, one cache array shape per
tensor), and speculative greedy output equals plain greedy output."""

import yaml

from dspark_compile.build import build_bundle
from dspark_compile.config import SchedulerConfig, load_recipe
from dspark_compile.models.tiny import tiny_hf_model
from dspark_compile.runtime.api import Runtime
from dspark_compile.runtime.sampling import SamplingParams
from dspark_compile.tokenizer import byte_tokenizer


def test_gemma4_bundle_is_lossless_with_per_layer_kv_shapes(tmp_path):
    hf = tiny_hf_model("gemma4", seed=0, model_type="gemma4_unified")
    hf.save_pretrained(tmp_path / "target")
    byte_tokenizer().save_pretrained(tmp_path / "target")
    recipe = {"schema": 1, "name": "tiny-gemma4", "target": {"source": "hf", "path": str(tmp_path / "target")},
              "draft": {"source": "random", "num_layers": 2, "markov_rank": 8}, "speculation": {"block_size": 4},
              "shapes": {"max_batch": 4, "max_context": 128, "prefill_chunk": 16}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    rt = Runtime.load(build_bundle(load_recipe(tmp_path / "r.yaml"), tmp_path / "bundle"))
    shapes = rt.bundle.model["kv_shapes"]  # sliding layers 2 heads x 16, the full one 1 x 32 (V = K)
    assert shapes[0] == [2, 16] and shapes[-1] == [1, 32]
    ids = [rt.encode(p) for p in ("hello there", "abc", "the quick brown fox")]
    plain = rt.generate_ids(ids, 16, [SamplingParams()] * 3, ignore_eos=True, scheduler=SchedulerConfig(mode="off"))
    for mode in ("fixed", "threshold", "cost"):
        spec = rt.generate_ids(ids, 16, [SamplingParams()] * 3, ignore_eos=True,
                               scheduler=SchedulerConfig(mode=mode, threshold=0.1))
        assert [c.tokens for c in spec] == [c.tokens for c in plain], mode
