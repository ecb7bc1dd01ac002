"""The recipe's `training` section: typed, frozen, defaults filled, bad keys and values named."""

import pytest

from dspark_compile.config import parse_recipe
from dspark_compile.errors import RecipeError

BASE = {"name": "t", "target": {"source": "random", "family": "llama"}}


def test_defaults_follow_the_reference_recipe():
    t = parse_recipe(BASE).training
    assert (t.lr, t.warmup, t.grad_clip, t.temperature, t.top_p) == (6e-4, 0.04, 1.0, 0.7, 0.8)
    assert t.train_vocab is None and t.max_prompts is None
    with pytest.raises(Exception):
        t.lr = 1.0  # frozen


@pytest.mark.parametrize("patch, expected", [
    ({"lr": 0}, "training.lr = 0: Input should be greater than 0"),
    ({"steps": "10"}, "training.steps = '10': Input should be a valid integer"),
    ({"top_p": 1.5}, "training.top_p = 1.5: Input should be less than or equal to 1"),
    ({"epochs": 3}, "training.epochs: unknown key"),
])
def test_bad_training_values(patch, expected):
    with pytest.raises(RecipeError) as err:
        parse_recipe({**BASE, "training": patch})
    assert expected in str(err.value)
