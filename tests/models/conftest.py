import pytest
import torch

from dspark_compile.models import from_hf_model
from dspark_compile.models.tiny import tiny_hf_model

# (family, model_type, config overrides): every registered model_type plus feature variants.
CASES = {
    "llama": ("llama", None, {}),
    "mistral": ("llama", "mistral", {}),
    "qwen3": ("qwen3", None, {}),
    "gemma2": ("gemma2", None, {}),
    "gemma3_text": ("gemma3", None, {}),
    # HF Gemma 3 ignores attn_logit_softcapping; so must we (the reference is what the weights expect).
    "gemma3_softcap": ("gemma3", None, {"final_logit_softcapping": 3.0, "attn_logit_softcapping": 5.0}),
    "gemma3_multimodal": ("gemma3", "gemma3", {}),
    "gemma4_text": ("gemma4", None, {}),  # 12B's features: see models.tiny._gemma4_text
    "gemma4_multimodal": ("gemma4", "gemma4", {}),
    "gemma4_unified_text": ("gemma4", "gemma4_unified_text", {}),
    "gemma4_unified": ("gemma4", "gemma4_unified", {}),  # Gemma 4 12B's model_type
}


@pytest.fixture(scope="session", params=sorted(CASES))
def pair(request):
    """(hf_model, our DecoderLM sharing its weights) for one tiny case, fp32, eager attention."""
    torch.set_num_threads(2)
    family, model_type, overrides = CASES[request.param]
    hf = tiny_hf_model(family, seed=1234, model_type=model_type, **overrides)
    return hf, from_hf_model(hf)
