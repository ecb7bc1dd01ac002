import pytest
import torch

from dspark_compile.drafter import DrafterConfig, init_drafter
from dspark_compile.models import from_hf_model
from dspark_compile.train.data import GenerationSettings, Prompt, extract_features, generate_responses
from tests.helpers import plain_target, tiny_hf_model, tiny_recipe

PROMPTS = [Prompt(f"p{i}", "chat", "train", text) for i, text in enumerate(
    ["Hello there", "The cat sat on", "1, 2, 3, 4", "Once upon a time", "abc abc abc", "Why is the sky",
     "x", "Lists: a, b, c"])]


@pytest.fixture(scope="session")
def tiny_data(tiny_bundles, tmp_path_factory):
    """Answers of the tiny llama target (sampled, through the runtime) and their extracted features."""
    from dspark_compile.runtime.api import Runtime

    path = tiny_bundles("llama")
    out = tmp_path_factory.mktemp("train") / "responses.jsonl"
    seqs = generate_responses(Runtime.load(path), PROMPTS, GenerationSettings(max_new_tokens=24, batch_size=3), out)
    feats = extract_features(plain_target(path), seqs, top_k=16, batch_tokens=64)
    return path, out, seqs, feats


@pytest.fixture(scope="session")
def tiny_target():
    """The tiny llama target (PyTorch) the tiny bundle was built from, with the bundle's taps."""
    from dspark_compile.build import resolve_taps

    loaded = tiny_hf_model("llama")
    model = from_hf_model(loaded.model, resolve_taps(tiny_recipe("llama"), loaded.config.num_hidden_layers))
    model.requires_grad_(False)
    return model, loaded.config


def new_drafter(tiny_target, seed: int = 0, block_size: int = 4):
    model, hf_config = tiny_target
    torch.manual_seed(0)
    cfg = DrafterConfig.for_target(hf_config, num_layers=1, block_size=block_size, markov_rank=8,
                                   target_layer_ids=model.tap_layers)
    return init_drafter(cfg, model, seed=seed)
