import pytest
import torch

from dspark_compile.drafter import DrafterConfig, init_drafter
from dspark_compile.models import from_hf_model
from dspark_compile.models.tiny import tiny_hf_model

# (family, model_type): every family, plus Gemma 3's multimodal wrapper and Mistral's sliding target.
CASES = {
    "llama": ("llama", None),
    "mistral": ("llama", "mistral"),
    "qwen3": ("qwen3", None),
    "gemma2": ("gemma2", None),
    "gemma3": ("gemma3", None),
    "gemma3_multimodal": ("gemma3", "gemma3"),
    "gemma4_unified": ("gemma4", "gemma4_unified"),  # Gemma 4 12B's type: full layers' wide heads, V = K
}
BLOCK = 4
RANK = 8


DRAFT_VOCAB = "+draft_vocab"  # a case name with this suffix: the drafter scores a random 2/3 of the vocabulary


def make_case(name: str, num_layers: int = 2, block_size: int = BLOCK, seed: int = 0, **overrides):
    """(hf_config, target DecoderLM, drafter) for one tiny case; STS temperatures != 1 so they matter."""
    torch.set_num_threads(2)
    if name.endswith(DRAFT_VOCAB):
        hf_config, target, drafter = make_case(name[:-len(DRAFT_VOCAB)], num_layers, block_size, seed, **overrides)
        gen = torch.Generator().manual_seed(seed + 7)
        ids = torch.randperm(drafter.vocab_size, generator=gen)[: 2 * drafter.vocab_size // 3].sort().values
        drafter.set_draft_vocab(ids)
        return hf_config, target, drafter
    family, model_type = CASES[name]
    hf = tiny_hf_model(family, seed=1234, model_type=model_type, **overrides)
    target = from_hf_model(hf)
    temps = [0.7 + 0.2 * k for k in range(block_size)]
    config = DrafterConfig.for_target(hf.config, num_layers=num_layers, block_size=block_size, markov_rank=RANK,
                                      sts_temperatures=temps)
    drafter = init_drafter(config, target, seed=seed, norm_jitter=0.3)
    for layer in drafter.layers:  # Gemma 4's stored layer scale: 1 would hide one that is not applied
        if layer.layer_scalar is not None:
            layer.layer_scalar.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(seed))
    return hf.config, target, drafter


@pytest.fixture(scope="session")
def cases():
    """Lazily built, cached tiny cases by name."""
    built = {}

    def get(name: str):
        if name not in built:
            built[name] = make_case(name)
        return built[name]

    return get
