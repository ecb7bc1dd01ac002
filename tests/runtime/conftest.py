"""Bundles with a "copy drafter", shared by the runtime tests.

A copy drafter has random layers, but a Markov head (W2 = W1, W1 ~ N(0, 1), rank 64) whose bias makes every
slot propose the previous token. Tiny random targets repeat themselves often, so drafts are accepted often
enough to exercise long accepted runs, rejections and bonus tokens.
"""

import pytest
import torch

from dspark_compile.build import build_bundle, resolve_taps
from dspark_compile.config import parse_recipe
from dspark_compile.drafter.checkpoint import init_drafter, save_drafter
from dspark_compile.drafter.config import DrafterConfig
from dspark_compile.models import from_hf_model
from dspark_compile.runtime.api import Runtime


def _copy_drafter_bundle(root, family: str, gamma: int, draft_vocab: bool = False,
                         quantization: dict | None = None, suffix: str = ""):
    from tests.helpers import tiny_hf_model, tiny_recipe  # (importable once pytest has set up sys.path)

    recipe = tiny_recipe(family)
    loaded = tiny_hf_model(family)
    model = from_hf_model(loaded.model, resolve_taps(recipe, loaded.config.num_hidden_layers))
    cfg = DrafterConfig.for_target(loaded.config, num_layers=1, markov_rank=64, block_size=gamma,
                                   target_layer_ids=model.tap_layers)
    drafter = init_drafter(cfg, model, seed=0)
    with torch.no_grad():
        w1 = torch.randn(drafter.markov_head.markov_w1.weight.shape, generator=torch.Generator().manual_seed(0))
        drafter.markov_head.markov_w1.weight.copy_(w1)
        drafter.markov_head.markov_w2.weight.copy_(w1)
    name = f"{family}-{gamma}" + ("-draft_vocab" if draft_vocab else "")
    if draft_vocab:  # the drafter scores 3 ids in 4: the rest come only from the target's own tokens
        drafter.set_draft_vocab(torch.arange(drafter.vocab_size)[torch.arange(drafter.vocab_size) % 4 != 1])
    ckpt = save_drafter(drafter, root / f"{name}-drafter")
    data = recipe.to_dict()
    data["draft"] = {"source": "checkpoint", "path": str(ckpt)}
    data["speculation"]["block_size"] = gamma
    if quantization:
        data["quantization"] = quantization
    return build_bundle(parse_recipe(data, source=f"tiny-{family} (γ={gamma})"), root / f"{name}{suffix}")


@pytest.fixture(scope="session")
def bundles(tmp_path_factory):
    """bundles(family, gamma=4, draft_vocab=False) -> (Runtime over a copy-drafter bundle, its plain target),
    built once; draft_vocab: the drafter scores a subset of the vocabulary."""
    from tests.helpers import plain_target

    root = tmp_path_factory.mktemp("spec")
    built = {}

    def get(family: str, gamma: int = 4, draft_vocab: bool = False):
        if (family, gamma, draft_vocab) not in built:
            path = _copy_drafter_bundle(root, family, gamma, draft_vocab)
            built[family, gamma, draft_vocab] = (Runtime.load(path), plain_target(path))
        return built[family, gamma, draft_vocab]

    return get
