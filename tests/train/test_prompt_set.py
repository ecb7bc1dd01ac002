"""The generated prompt set: the packaged file is the generator's output, the held-out split is the original one,
and the training prompts are many, distinct and never near-duplicates of a held-out prompt."""

import hashlib
import json
import re

import pytest

from dspark_compile.train import prompt_set as ps
from dspark_compile.train.data import SPLITS, load_prompts

# sha256 of the 59 original held-out lines of dspark_compile/data/prompts.jsonl, sorted, each ending in "\n"
# (taken from the file as it was before the set was grown; the held-out split must never change)
HELDOUT_SHA256 = "712b25a4299b2c244ff218725722ac84383cae1ab6ce9ea285f9c20d35459c39"
HELDOUT_COUNT = 59


@pytest.fixture(scope="module")
def built():
    return ps.build_records()


@pytest.fixture(scope="module")
def file_lines():
    return ps.PROMPTS_PATH.read_text().splitlines()


def test_packaged_file_is_the_generators_output(built, file_lines):
    records, _ = built
    assert ps.PROMPTS_PATH.read_text() == ps.render(records), \
        "rerun `python -m dspark_compile.train.prompt_set --write`"
    assert len(file_lines) == len(records)


def test_heldout_split_is_the_original_one(file_lines):
    held = [line for line in file_lines if json.loads(line)["split"] == "heldout"]
    assert len(held) == HELDOUT_COUNT
    assert hashlib.sha256("".join(line + "\n" for line in sorted(held)).encode()).hexdigest() == HELDOUT_SHA256
    assert [json.loads(line) for line in held] == ps.heldout_records()  # and in the original order


def test_records_load_ids_unique_and_rules_hold(file_lines):
    prompts = load_prompts()
    assert len(prompts) == len(file_lines)
    assert {p.split for p in prompts} == set(SPLITS)
    assert len({p.id for p in prompts}) == len(prompts)
    for p in prompts:  # the original file's rules: id and split derive from the text's sha256
        assert p.id == ps.prompt_id(p.category, p.prompt) and p.split == ps.hash_split(p.prompt), p
        assert p.category in ps.TRAIN_TARGETS and len(p.prompt.split()) <= ps.MAX_WORDS, p
    assert {p.category for p in load_prompts("heldout")} == {"chat", "explanation", "code", "math", "list", "prose"}


def test_many_distinct_training_prompts_in_the_intended_mix():
    train = load_prompts("train")
    held = {ps.normalise(p.prompt) for p in load_prompts("heldout")}
    norms = {ps.normalise(p.prompt) for p in train}
    assert len(norms) == len(train) >= ps.MIN_TRAIN and not norms & held
    share = {c: sum(p.category == c for p in train) / len(train) for c in ps.TRAIN_TARGETS}
    assert 0.25 <= share["explanation"] <= 0.35 and 0.12 <= share["chat"] <= 0.2
    assert all(0.09 <= share[c] <= 0.16 for c in ("code", "math", "list", "prose"))
    assert all(0.01 <= share[c] <= 0.05 for c in ("extraction", "rewrite"))
    math = [p.prompt for p in train if p.category == "math"]
    # numbers are not what mostly tells math prompts apart
    assert len({re.sub(r"\d+", "#", m) for m in math}) >= 0.6 * len(math)


def test_no_training_prompt_is_a_near_duplicate_of_a_heldout_one(built):
    held = [ps._Features(p.prompt) for p in load_prompts("heldout")]
    train = [ps._Features(p.prompt) for p in load_prompts("train")]
    near = [(t.text, h.text) for t in train for h in held if ps._near(t, h)]
    assert not near
    _, report = built
    assert len(report["dropped"]) == 31  # originals dropped as near-duplicates (listed by --write -v)


def test_near_duplicate_rule():
    nd = ps.near_duplicate
    # same topic, mostly the same words
    assert nd("What is volcanoes?", "How does volcanoes work?")
    assert nd("Explain compound interest to a ten-year-old.", "Summarize what people should know about compound interest.")
    assert nd("Write a Rust function that finds the largest element of a list.",
              "Write a Python function that finds the largest element of a list, and explain how it works.")
    assert nd("Make a bulleted list of countries in South America.",
              "Name four countries in South America and say one sentence about each.")
    assert nd("Tell me a bedtime story about a wizard who forgot his spells.",
              "Write a short story about a wizard who forgot his spells.")
    # the same template with another topic is not a near-duplicate
    assert not nd("What is volcanoes?", "What is rainbows?")
    assert not nd("Summarize what people should know about the Cold War.",
                  "Summarize what people should know about the periodic table.")
    assert not nd("Write the opening paragraph of a novel about a magic library.",
                  "Write the opening paragraph of a novel about a dragon who is afraid of fire.")
    assert not nd("Can you help me plan a trip to Italy?", "Can you help me plan a trip to Japan?")
    assert not nd("Write a Java function that merges two sorted lists.",
                  "Write a Java function that checks whether a number is prime.")


def test_check_reports_a_stale_file(built, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ps, "build_records", lambda: built)  # (built once for the module)
    assert ps.main(["--check"]) == 0
    stale = tmp_path / "prompts.jsonl"
    stale.write_text("".join(line + "\n" for line in ps.PROMPTS_PATH.read_text().splitlines()[:-1]))
    assert ps.main(["--check", "--path", str(stale)]) == 1
    assert "differs from what" in capsys.readouterr().err
