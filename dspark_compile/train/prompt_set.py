"""The drafter's prompt set (`dspark_compile/data/prompts.jsonl`), generated deterministically.

    python -m dspark_compile.train.prompt_set --write    # rewrite the packaged file
    python -m dspark_compile.train.prompt_set --check    # exit 1 if the packaged file differs from the output

What it writes, in this order:

  * the 569 records of the original hand-templated set (`ORIGINAL` at the end of this module), in their
    original order, except the training prompts that are near-duplicates of a held-out prompt (dropped);
    the 59 held-out records are written byte-identically, in their original positions;
  * new training prompts, shuffled (seeded), until every category reaches its `TRAIN_TARGETS` count.

Every template, topic list and passage below is written for this project (no network, no external data set,
no text of public benchmark test sets). Records keep the original file's rules, which are derivable:

    id    = f"{category}-{int(sha256(prompt)) % 10**8:08d}"
    split = "heldout" if int(sha256(prompt)) % 10 == 0 else "train"

The held-out split is fixed at the original 59 prompts: a new prompt whose hash would put it in the held-out
split is not used at all, so the split stays a function of the text and no training prompt could ever be
read as a held-out one. New prompts are also distinct from every other prompt after `normalise`, at most
`MAX_WORDS` words, and never `near_duplicate` of a held-out prompt.

Categories: the six of the original set (explanation, chat, code, math, list, prose), plus two for training
only: "extraction" (pull names, dates, prices... out of a short composed passage) and "rewrite" (simplify,
summarise, change the tone of a short composed passage).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

SEED = 20261129
PROMPTS_PATH = Path(__file__).resolve().parents[1] / "data" / "prompts.jsonl"

TRAIN_TARGETS = {  # training prompts per category, the kept original ones included
    "explanation": 1620, "chat": 865, "code": 700, "math": 700, "list": 620, "prose": 620,
    "extraction": 135, "rewrite": 135,
}
MIN_TRAIN = 5100
MAX_WORDS = 120

# --------------------------------------------------------------------------------------------------------------
# Near-duplicates
#
# Two prompts are near-duplicates when they ask about the same thing in much the same words:
#   * their content words (lowercase words, plural -s folded, minus `STOPWORDS`: function words and the words
#     the templates are made of: "explain", "describe", "overview", "ten-year-old", "list", "poem", number
#     words, programming-language names...) have a Jaccard similarity >= CONTENT_JACCARD, or
#   * their character 5-grams (over the lowercase words joined by spaces) have Jaccard >= CHAR_JACCARD.
# With the template words removed, the content words are the topic: "What is volcanoes?" and "How does
# volcanoes work?" both reduce to {volcano} (1.0), while "What is rainbows?" and "What is volcanoes?" share
# nothing (0.0). The character rule only catches near-verbatim copies: prompts sharing a long template with a
# different topic reach 0.65 ("Summarize what people should know about the periodic table." vs "... about the
# Cold War."), so it sits above that.
# --------------------------------------------------------------------------------------------------------------

CONTENT_JACCARD = 0.6
CHAR_JACCARD = 0.8

STOPWORDS = frozenset("""
a an the and or but if then so of to in on at by for with from into onto about as than too very
is are was were be been being am do does did done doing have has had having will would can could should shall
may might must cant dont doesnt isnt arent wont im ive id youre whats hows whos thats theres lets
i me my mine myself we us our you your yours he him his she her it its they them their this that these those
there here what which who whom whose when where why how
not no yes all any some each every both few more most other such only own same just also again even still
please thanks thank hi hey hello ok okay
explain explained explaining describe described tell give giving write make show list name say summarize
summarise overview introduction
short simple simply terms main idea ideas behind basic basics beginner beginners key brief briefly quick clear
plain fact facts
know people someone something thing things way ways tip tips kind sort type types
important matter matters work works working ten-year-old ten year old
one two three four five six seven eight nine ten eleven twelve
bulleted numbered sentence sentences paragraph paragraphs
help plan want need like get let use using
function script program code implement
python javascript sql bash c rust go java
poem story stories novel opening bedtime haiku limerick fable tale
well really much many lot
""".split())

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def normalise(text: str) -> str:
    """Lowercase, punctuation stripped, whitespace collapsed: what 'distinct prompts' compares."""
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("'", "").replace("\u2019", ""))


def _stem(w: str) -> str:
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("oes", "sses", "xes", "ches", "shes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def content_words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _words(text) if w not in STOPWORDS)


def char_grams(text: str, n: int = 5) -> frozenset[str]:
    s = " ".join(_words(text))
    return frozenset(s[i : i + n] for i in range(max(1, len(s) - n + 1)))


def _jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if (a or b) else 0.0


class _Features:
    __slots__ = ("text", "content", "grams")

    def __init__(self, text: str):
        self.text, self.content, self.grams = text, content_words(text), char_grams(text)


def _near(a: _Features, b: _Features) -> bool:
    if a.content and b.content and _jaccard(a.content, b.content) >= CONTENT_JACCARD:
        return True
    return _jaccard(a.grams, b.grams) >= CHAR_JACCARD


def near_duplicate(a: str, b: str) -> bool:
    """Whether two prompts ask about the same thing in much the same words (see the rule above)."""
    return _near(_Features(a), _Features(b))


# --------------------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------------------


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def prompt_id(category: str, text: str) -> str:
    return f"{category}-{_hash(text) % 10**8:08d}"


def hash_split(text: str) -> str:
    return "heldout" if _hash(text) % 10 == 0 else "train"


def record(category: str, text: str, split: str | None = None) -> dict:
    return {"id": prompt_id(category, text), "category": category, "split": split or hash_split(text),
            "prompt": text}


def original_records() -> list[dict]:
    """The original 569 records (ids and splits derived by the rules above, checked against the stored split)."""
    out = []
    for line in ORIGINAL.strip("\n").splitlines():
        split, category, text = line.split("\t")
        split = {"t": "train", "h": "heldout"}[split]
        if hash_split(text) != split:  # pragma: no cover - the rule holds for every original record
            raise AssertionError(f"original prompt {text!r}: split {split} is not the hash rule's")
        out.append(record(category, text, split))
    return out


def heldout_records() -> list[dict]:
    return [r for r in original_records() if r["split"] == "heldout"]


def render(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


class _Selector:
    """Accepts new training prompts: short, distinct, not held-out by the hash rule, no id clash, not a
    near-duplicate of a held-out prompt."""

    def __init__(self, kept: list[dict], heldout: list[dict]):
        self.norms = {normalise(r["prompt"]) for r in kept + heldout}
        self.ids = {r["id"] for r in kept + heldout}
        self.held = [_Features(r["prompt"]) for r in heldout]
        self.rejected = Counter()

    def accept(self, category: str, text: str) -> bool:
        n = normalise(text)
        if len(text.split()) > MAX_WORDS:
            self.rejected["too long"] += 1
            return False
        if n in self.norms:
            self.rejected["not distinct"] += 1
            return False
        if hash_split(text) != "train":
            self.rejected["held-out by hash"] += 1
            return False
        pid = prompt_id(category, text)
        if pid in self.ids:
            self.rejected["id clash"] += 1
            return False
        f = _Features(text)
        if any(_near(f, h) for h in self.held):
            self.rejected["near a held-out prompt"] += 1
            return False
        self.norms.add(n)
        self.ids.add(pid)
        return True


def _round_robin(iters: list, quota: int, accept) -> list[str]:
    """Up to `quota` prompts taken one group at a time, round after round (from each group's iterator, in its
    order), so every group (a topic, a task, a problem template) gets a prompt before any gets a second.
    Exhausted iterators are removed from `iters`; the others stay where they stopped (for a top-up)."""
    out: list[str] = []
    while iters and len(out) < quota:
        i = 0
        while i < len(iters) and len(out) < quota:
            for text in iters[i]:
                if accept(text):
                    out.append(text)
                    i += 1
                    break
            else:
                del iters[i]
    return out


def build_records() -> tuple[list[dict], dict]:
    """(the records to write, a report: dropped originals, rejections, per-family counts)."""
    original = original_records()
    heldout = [r for r in original if r["split"] == "heldout"]
    held_feats = [_Features(r["prompt"]) for r in heldout]
    dropped, kept = [], []
    for r in original:
        if r["split"] == "train":
            f = _Features(r["prompt"])
            near = next((h.text for h in held_feats if _near(f, h)), None)
            if near is not None:
                dropped.append((r["prompt"], near))
                continue
        kept.append(r)
    kept_train = Counter(r["category"] for r in kept if r["split"] == "train")
    sel = _Selector(kept, heldout)
    new: list[dict] = []
    families_report = {}
    for category, families in FAMILIES.items():
        need = TRAIN_TARGETS[category] - kept_train.get(category, 0)
        total_w = sum(w for _, w, _ in families)
        iters_of: dict[str, list] = {}
        taken_cat: list[str] = []
        for i, (name, weight, make) in enumerate(families):
            rng = random.Random(f"{SEED}:{category}:{name}")
            groups = make(rng)
            rng.shuffle(groups)
            iters_of[name] = [iter(g) for g in groups]
            quota = round(need * weight / total_w) if i < len(families) - 1 else need - len(taken_cat)
            got = _round_robin(iters_of[name], quota, lambda t, c=category: sel.accept(c, t))
            families_report[f"{category}/{name}"] = len(got)
            taken_cat += got
        if len(taken_cat) < need:  # a family ran out: top up from all of them
            more = _round_robin([it for its in iters_of.values() for it in its], need - len(taken_cat),
                                lambda t, c=category: sel.accept(c, t))
            families_report[f"{category}/(top-up)"] = len(more)
            taken_cat += more
        new += [record(category, t, "train") for t in taken_cat]
    random.Random(f"{SEED}:order").shuffle(new)
    report = {"dropped": dropped, "rejected": dict(sel.rejected), "families": families_report}
    return kept + new, report


def counts(records: list[dict]) -> dict:
    out: dict = {}
    for r in records:
        out.setdefault(r["split"], Counter())[r["category"]] += 1
    return out


def _print_counts(records: list[dict], report: dict | None = None) -> None:
    for split, c in sorted(counts(records).items(), key=lambda kv: kv[0] != "train"):
        total = sum(c.values())
        print(f"{split}: {total} prompts")
        for cat, n in c.most_common():
            print(f"  {cat:<12} {n:>5}  ({100 * n / total:.1f}%)")
    if report:
        print(f"original training prompts dropped as near-duplicates of a held-out prompt: {len(report['dropped'])}")
        for a, b in report["dropped"]:
            print(f"  {a!r}  ~  {b!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"rewrite {PROMPTS_PATH}")
    mode.add_argument("--check", action="store_true", help="exit 1 if the packaged file differs from the output")
    ap.add_argument("--path", type=Path, default=PROMPTS_PATH, help="the prompt file (default: the packaged one)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list the dropped prompts")
    args = ap.parse_args(argv)
    records, report = build_records()
    text = render(records)
    n_train = sum(r["split"] == "train" for r in records)
    if n_train < MIN_TRAIN:  # pragma: no cover - a generator bug
        print(f"error: only {n_train} training prompts (need {MIN_TRAIN})", file=sys.stderr)
        return 2
    if args.write:
        args.path.write_text(text)
        print(f"wrote {args.path} ({len(records)} records)")
        _print_counts(records, report if args.verbose else None)
        print(f"dropped originals: {len(report['dropped'])}; candidates rejected: {report['rejected']}")
        return 0
    current = args.path.read_text() if args.path.is_file() else ""
    if current != text:
        old, new = current.splitlines(), text.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
        print(f"error: {args.path} differs from what `python -m dspark_compile.train.prompt_set --write` would "
              f"write ({len(old)} lines there, {len(new)} generated; first difference at line {first + 1}); "
              f"rerun it with --write", file=sys.stderr)
        return 1
    print(f"{args.path} is up to date ({len(records)} records)")
    _print_counts(records)
    return 0


# --------------------------------------------------------------------------------------------------------------
# Content. Each family makes a list of groups (a topic, a task, a problem template...), each group a list of
# candidate prompts in a seeded order; `_round_robin` takes one accepted prompt per group per round.
# --------------------------------------------------------------------------------------------------------------


def _lines(block: str) -> list[str]:
    return [ln.strip() for ln in block.strip().splitlines() if ln.strip() and not ln.strip().startswith("#")]


def _shuffled(rng: random.Random, items) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


def _interleave(*lists: list[str]) -> list[str]:
    out = []
    for i in range(max(map(len, lists))):
        out += [lst[i] for lst in lists if i < len(lst)]
    return out


def _a(noun: str) -> str:
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


# ---- explanation ----------------------------------------------------------------------------------------------

EXPLAIN_GENERIC = _lines("""
Explain {t} in simple terms.
Can you describe {t} to a beginner?
Give me a short overview of {t}.
Summarize what people should know about {t}.
Explain {t} to a ten-year-old.
What are three key facts about {t}?
Write a short explanation of {t} for a school newsletter.
Teach me the basics of {t} in a few short paragraphs.
What is a common misconception about {t}, and what is the truth?
How would you explain {t} to someone with no background in the subject?
Give a clear two-paragraph introduction to {t}.
What should a curious teenager know about {t}?
In plain language, what is worth knowing about {t}?
I have five minutes. Tell me the essentials of {t}.
""")

EXPLAIN_KIND = {
    "c": _lines("""
        What is {t}?
        Can you give a real-world example of {t}?
        Why does {t} matter?
        What are the main ideas behind {t}?
        What is a good analogy for understanding {t}?
        How did the idea of {t} develop?
        """),
    "cp": _lines("""
        What are {t}?
        Can you give some everyday examples of {t}?
        Why do {t} matter?
        What are the main ideas behind {t}?
        What is a good analogy for understanding {t}?
        """),
    "m": _lines("""
        How does {t} work?
        What are the main parts of {t}, and what does each one do?
        What are the limitations of {t}?
        Walk me through how {t} works, step by step.
        What problem does {t} solve, and how?
        """),
    "mp": _lines("""
        How do {t} work?
        What are the main parts of {t}, and what does each one do?
        What are the limitations of {t}?
        Walk me through how {t} work, step by step.
        What problem do {t} solve, and how?
        """),
    "e": _lines("""
        What caused {t}?
        What were the main consequences of {t}?
        Why is {t} still remembered today?
        How do historians know what we know about {t}?
        What can we learn from {t}?
        Give me a short timeline of {t}.
        """),
    "p": _lines("""
        What is special about {t}?
        Describe the geography and climate of {t}.
        What should a first-time visitor know about {t}?
        Give me a brief history of {t}.
        What makes {t} unique?
        """),
    "b": _lines("""
        What does {t} do in the body?
        What role does {t} play in keeping us healthy?
        What happens when something goes wrong with {t}?
        What everyday habits affect {t}?
        """),
    "bp": _lines("""
        What do {t} do in the body?
        How do {t} work?
        Why are {t} important for health?
        What happens when {t} don't work as they should?
        """),
    "d": _lines("""
        What causes {t}?
        What are the early signs of {t}?
        How can {t} be prevented or managed?
        When should someone see a doctor about {t}?
        """),
    "k": _lines("""
        What is the science behind {t}?
        What mistakes do beginners make with {t}?
        What should a home cook understand about {t}?
        What do you need for {t}, and how long does it take?
        """),
    "f": _lines("""
        Where does {t} come from, and how is it made?
        What gives {t} its flavour?
        What is the history of {t}?
        How is {t} used in cooking around the world?
        """),
    "fp": _lines("""
        Where do {t} grow, and how are they harvested?
        What nutrients do {t} provide?
        How did {t} spread around the world?
        How should {t} be stored and prepared?
        """),
    "n": _lines("""
        What causes {t}?
        How do scientists study {t}?
        Can {t} be predicted?
        Which parts of the world are most affected by {t}?
        """),
    "nf": _lines("""
        How do {t} form?
        How do scientists study {t}?
        Where in the world can you see spectacular {t}?
        How do {t} change over time?
        """),
    "pr": _lines("""
        How does {t} work?
        Walk me through how {t} works, step by step.
        What can go wrong in {t}, and how is it handled?
        Who is involved in {t}, and what does each of them do?
        """),
    "op": _lines("""
        How have {t} adapted to their environment?
        What role do {t} play in their ecosystems?
        What makes {t} unusual among living things?
        How do {t} grow and reproduce?
        What threats do {t} face today?
        """),
    "o": _lines("""
        How have {t} adapted to their environment?
        What role do {t} play in their ecosystems?
        What makes {t} unusual among living things?
        How do {t} sense the world around them?
        What threats do {t} face today?
        """),
    "s": _lines("""
        What are the basic rules of {t}?
        How do you win at {t}?
        What skills does {t} require?
        How did {t} originate?
        What separates a beginner from an expert in {t}?
        """),
    "a": _lines("""
        What are the defining features of {t}?
        How did {t} develop over time?
        How can a beginner learn to appreciate {t}?
        Who are some influential figures in the history of {t}?
        """),
    "l": _lines("""
        What are the pros and cons of {t}?
        How does someone get started with {t}?
        What are common mistakes people make with {t}?
        Who benefits most from {t}?
        """),
    "j": _lines("""
        What does a typical day look like for {t}?
        What skills and training do {t} need?
        What are the biggest challenges faced by {t}?
        How has the work of {t} changed in the last twenty years?
        What do {t} actually do?
        """),
}

EXPLAIN_TOPICS = _lines("""
# concepts (singular)
c|natural selection
c|entropy
c|the placebo effect
c|opportunity cost
c|the scientific method
c|inertia
c|momentum
c|buoyancy
c|surface tension
c|osmosis
c|diffusion in liquids and gases
c|radioactivity
c|nuclear fusion
c|nuclear fission
c|the Doppler effect
c|static electricity
c|magnetism
c|refraction
c|the speed of light
c|quantum entanglement
c|dark matter
c|the Big Bang theory
c|absolute zero
c|thermal expansion
c|the conservation of energy
c|kinetic energy
c|air pressure
c|humidity
c|the carbon cycle
c|the nitrogen cycle
c|biodiversity
c|symbiosis
c|camouflage in animals
c|herd immunity
c|antibiotic resistance
c|genetic mutation
c|heredity
c|cell division
c|metabolism
c|the circadian rhythm
c|neuroplasticity
c|muscle memory
c|cognitive dissonance
c|confirmation bias
c|the sunk cost fallacy
c|the Dunning-Kruger effect
c|loss aversion
c|impostor syndrome
c|emotional intelligence
c|groupthink
c|the bystander effect
c|comparative advantage
c|economies of scale
c|gross domestic product
c|the law of diminishing returns
c|price elasticity
c|deflation
c|the gig economy
c|universal basic income
c|the separation of powers
c|the rule of law
c|federalism
c|proportional representation
c|freedom of the press
c|the social contract
c|utilitarianism
c|stoicism
c|existentialism
c|the trolley problem
c|free will
c|critical thinking
c|probability
c|statistical significance
c|correlation versus causation
c|the law of large numbers
c|infinity
c|the golden ratio
c|exponential growth
c|game theory
c|the prisoner's dilemma
c|cryptography
c|open-source software
c|artificial intelligence
c|natural language processing
c|computer vision
c|the Internet of Things
c|edge computing
c|virtual reality
c|augmented reality
c|quantum computing
c|cybersecurity
c|two-factor authentication
c|data compression
c|version control
c|net neutrality
c|digital privacy
c|the passive voice
c|the subjunctive mood
c|code-switching between languages
c|etymology
c|onomatopoeia
c|irony in literature
c|satire
c|the hero's journey
c|perspective in drawing
c|colour theory
c|harmony in music
c|syncopation
c|musical improvisation
c|aerodynamics
c|ergonomics
c|urban planning
c|gentrification
c|globalization
c|fair trade
c|carbon offsetting
c|sustainable agriculture
c|permaculture
c|desalination
c|soil erosion
c|deforestation
c|ocean acidification
c|light pollution
c|noise pollution
c|microplastic pollution
c|habitat fragmentation
c|rewilding
c|the food chain
c|pollination
c|the Maillard reaction in cooking
c|plate boundaries
c|continental drift
c|the greenhouse gas methane
c|carbon capture
c|the butterfly effect
c|supply chain management
c|inflation targeting by central banks
c|the trade deficit
c|minimum wage policy
c|the tragedy of the commons
c|Occam's razor
c|the Turing test
c|machine translation
c|the Fibonacci sequence in nature
c|symmetry in nature
c|the speed of sound
c|electric current
c|resistance in electric circuits
c|wave-particle duality
c|the theory of plate tectonics
c|the age of the universe
c|gravity on other planets
cp|prime numbers
cp|black holes
cp|exoplanets
cp|neutron stars
cp|antioxidants
cp|probiotics
cp|genetically modified crops
cp|renewable energy subsidies
cp|logical fallacies
cp|cognitive biases
cp|phonemes
cp|irregular verbs
cp|dialects
cp|idioms
cp|loanwords in English
cp|algorithms
cp|neural networks
cp|large language models
cp|microchips
cp|semiconductors
cp|superconductors
cp|catalysts in chemistry
cp|acids and bases
cp|isotopes
cp|ecosystems
cp|keystone species
cp|invasive species
cp|food deserts
cp|human rights
cp|constitutional amendments
cp|trade unions
cp|sanctions between countries
# mechanisms and technology (singular)
m|a refrigerator
m|a microwave oven
m|a jet engine
m|a nuclear reactor
m|a dishwasher
m|a thermostat
m|a hydroelectric dam
m|a wind turbine
m|an elevator
m|a submarine
m|a helicopter
m|a pin tumbler lock
m|a mechanical watch
m|a camera lens
m|a barcode scanner
m|a touchscreen
m|Wi-Fi
m|Bluetooth
pr|email delivery
m|the World Wide Web
m|a web browser
m|a compiler
m|a database index
pr|a contactless card payment
m|an MRI scanner
m|an X-ray machine
m|a pacemaker
m|a hearing aid
m|the electoral college
pr|a jury trial
m|a central bank
m|a stock exchange
m|an insurance policy
m|a mortgage
m|a pension plan
m|the postal system
m|a canal lock
m|a suspension bridge
m|a steam engine
m|a telescope
m|a microscope
m|the Hubble Space Telescope
m|the International Space Station
pr|a rocket launch
m|a hot air balloon
c|the physics of sailing into the wind
m|a bicycle's gears
m|a car's gearbox
m|an electric motor
m|a solar cell
m|a heat pump
m|a water treatment plant
m|a sewage system
m|a smoke detector
m|a fire extinguisher
m|an airbag
m|an anti-lock braking system
m|cruise control
m|a traffic light system
m|a radio
m|a loudspeaker
m|a microphone
m|a digital camera sensor
m|a QR code
m|a password manager
m|a VPN
m|a firewall
m|a spam filter
m|a recommendation algorithm
m|a vending machine
m|an escalator
m|a sewing machine
m|a pressure cooker
m|an espresso machine
m|a lighthouse
m|a compass
m|a thermometer
m|a barometer
m|a seismograph
m|a weather satellite
m|a sundial
m|a pendulum clock
m|a fuel cell
m|a desalination plant
pr|the legislative process
pr|a credit check
pr|a search and rescue operation
mp|noise-cancelling headphones
mp|hybrid cars
mp|self-driving cars
mp|electric scooters
mp|smartwatches
mp|fitness trackers
mp|contact lenses
mp|LED bulbs
mp|fibre-optic cables
mp|undersea internet cables
mp|mobile phone towers
cp|loyalty programs
cp|tariffs
cp|interest rates
cp|stock options
cp|government bonds
cp|cryptocurrencies
cp|online auctions
mp|browser cookies
mp|CAPTCHAs
mp|password hashes
bp|antibodies
bp|enzymes
bp|hormones
bp|neurons
bp|stem cells
mp|seed banks
mp|skyscrapers
mp|levees
mp|roundabouts
mp|high-speed trains
mp|maglev trains
mp|container ships
mp|airplane wings
mp|parachutes
mp|fireworks
mp|glow sticks
mp|lasers
mp|holograms
mp|barcodes
mp|smart meters
mp|electric grids
mp|noise barriers on motorways
mp|hearing tests
mp|lie detectors
cp|flu vaccines
mp|traffic cameras
# history
e|the fall of the Western Roman Empire
e|the Black Death
e|the Silk Road trade
e|the Age of Exploration
e|the Protestant Reformation
e|the Scientific Revolution
e|the American Revolution
e|the Haitian Revolution
e|the abolition of slavery in the British Empire
e|the Meiji Restoration
e|the California Gold Rush
e|the building of the Panama Canal
e|the Wright brothers' first flight
e|the sinking of the Titanic
e|the 1918 flu pandemic
e|the Great Depression
e|the New Deal
e|the Dust Bowl
e|World War II
e|the Marshall Plan
e|the founding of the United Nations
e|the partition of India
e|the Space Race
e|the Apollo 11 Moon landing
e|the civil rights movement
e|the fall of the Berlin Wall
e|the end of apartheid in South Africa
e|the dot-com bubble
e|the invention of the telephone
e|the invention of writing
e|the Neolithic Revolution
e|the Bronze Age
e|the Viking Age
e|the Mongol Empire
e|the Ottoman Empire
e|the Ming dynasty
e|the Inca Empire
e|the Aztec Empire
e|the Maya civilization
e|democracy in ancient Athens
e|the ancient Olympic Games
e|the Magna Carta
e|the Hundred Years' War
e|the Crusades
e|the Irish Potato Famine
e|the women's suffrage movement
e|the Chernobyl disaster
e|the discovery of penicillin
e|the Human Genome Project
e|the Cuban Missile Crisis
e|the Korean War
e|the Napoleonic Wars
e|the unification of Germany
e|the Russian Revolution of 1917
e|the Hanseatic League
e|the transatlantic slave trade
e|the Harlem Renaissance
e|the Enlightenment
e|the Library of Alexandria
e|the building of the first railways
e|the Gutenberg Bible
e|the Treaty of Versailles
e|the Spanish conquest of the Americas
e|the Qin dynasty's unification of China
e|the Columbian Exchange
e|the extinction of the dinosaurs
e|the last ice age
# places
p|the Amazon River
p|the Sahara Desert
p|the Himalayas
p|Mount Everest
p|the Great Barrier Reef
p|Antarctica
p|the Arctic
p|Iceland
p|Japan
p|Kenya
p|Peru
p|Mongolia
p|New Zealand
p|the Rocky Mountains
p|the Nile
p|the Mississippi River
p|the Dead Sea
p|the Grand Canyon
p|Yellowstone National Park
p|the Galapagos Islands
p|Madagascar
p|the Alps
p|Venice
p|Istanbul
p|Kyoto
p|Rio de Janeiro
p|Cairo
p|Petra
p|Machu Picchu
p|Angkor Wat
p|the Mediterranean Sea
p|the Pacific Ring of Fire
p|the Atacama Desert
p|Patagonia
p|the Scottish Highlands
p|the Netherlands
p|Singapore
p|Lake Baikal
p|the Danube
p|the Serengeti
p|Greenland
p|Hawaii
p|the Caribbean
p|Siberia
p|the Gobi Desert
p|Bhutan
p|Morocco
p|Vietnam
p|the Norwegian fjords
p|the Australian Outback
p|the Okavango Delta
p|Cappadocia
p|Easter Island
p|the Mekong River
p|Chile
p|Portugal
p|Ethiopia
p|the Andes
p|the Black Forest
p|the Baltic Sea
# the body
b|the liver
b|the kidneys
b|the lungs
b|the human skeleton
b|the nervous system
b|the digestive system
b|the lymphatic system
b|the skin
b|the human eye
b|the inner ear
bp|red blood cells
bp|white blood cells
b|insulin
b|adrenaline
b|dopamine
b|serotonin
b|cholesterol
b|vitamin D
b|dietary iron
b|dietary fibre
b|the gut microbiome
b|the appendix
b|tendons and ligaments
b|bone density
b|the placenta
bp|taste buds
b|the sense of smell
b|the spinal cord
b|the thyroid gland
b|the pancreas
b|tooth enamel
b|blood clotting
d|jet lag
d|seasonal allergies
d|migraines
d|the common cold
d|food poisoning
d|sunburn
d|motion sickness
d|hiccups
d|asthma
d|type 2 diabetes
d|high blood pressure
d|anaemia
d|insomnia
d|burnout
d|lower back pain
d|repetitive strain injury
d|concussion
d|heatstroke
d|frostbite
d|lactose intolerance
d|coeliac disease
d|acne
d|tooth decay
d|digital eye strain
d|vertigo
d|shin splints
d|altitude sickness
d|chickenpox
d|measles
d|Lyme disease
d|gum disease
d|tennis elbow
# food and cooking
k|fermentation
k|caramelization
k|brining
k|sous vide cooking
k|emulsification
k|tempering chocolate
k|proofing dough
k|pickling
k|smoking meat
k|braising
k|deglazing a pan
k|blanching vegetables
k|making a roux
k|slow cooking
k|pressure cooking
k|stir-frying
k|deep frying
k|poaching eggs
k|making stock
k|curing meat
k|dry ageing beef
k|whipping egg whites
k|making fresh pasta
k|resting meat after cooking
k|seasoning a cast-iron pan
k|freezing food safely
k|home canning
k|dehydrating fruit
f|cheese
f|chocolate
f|tofu
f|olive oil
f|kimchi
f|soy sauce
f|miso
f|yogurt
f|honey
f|maple syrup
f|sourdough bread
f|pasta
f|sushi
f|green tea
f|vanilla
f|saffron
f|black pepper
f|peanut butter
f|butter
f|vinegar
f|sea salt
f|cane sugar
f|hummus
f|paella
f|pho
f|the tortilla
f|curry powder
fp|tomatoes
fp|potatoes
fp|avocados
fp|bananas
fp|coconuts
fp|almonds
fp|lentils
fp|oats
fp|chili peppers
fp|mushrooms
fp|cocoa beans
fp|rice grains
fp|mangoes
fp|blueberries
# nature
n|lightning
n|thunderstorms
n|the northern lights
nf|ocean currents
n|monsoons
n|tsunamis
nf|glaciers
n|tornadoes
n|hailstorms
n|fog
nf|snowflakes
nf|sand dunes
nf|limestone caves
nf|geysers
nf|hot springs
n|the jet stream
n|El Nino
n|wildfires
n|floods
n|droughts
n|avalanches
n|meteor showers
n|solar eclipses
n|lunar eclipses
nf|comets
nf|sunspots
nf|waterfalls
nf|river deltas
n|coral bleaching
c|bird migration
c|animal hibernation
c|bioluminescence
n|landslides
c|river erosion
nf|clouds
c|dew
c|frost
c|groundwater
n|heat waves
nf|sinkholes
c|the midnight sun
n|king tides
o|octopuses
o|honeybees
o|ants
op|fungi
o|sharks
o|whales
o|dolphins
o|elephants
o|wolves
o|crows
o|parrots
o|penguins
o|owls
o|bats
o|frogs
o|snakes
o|sea turtles
o|butterflies
o|spiders
o|jellyfish
o|tardigrades
op|redwood trees
op|cacti
op|carnivorous plants
op|mosses
op|lichens
op|bamboo plants
op|sunflowers
op|oak trees
op|mangroves
op|kelp forests
o|earthworms
op|bacteria
o|horses
o|chimpanzees
o|hummingbirds
o|salmon
o|eels
o|camels
o|polar bears
o|koalas
o|giant pandas
o|hedgehogs
o|beavers
o|mosquitoes
o|seahorses
o|vultures
o|fireflies
# sports and games
s|cricket
s|chess
s|curling
s|rugby
s|badminton
s|baseball
s|basketball
s|volleyball
s|tennis
s|table tennis
s|golf
s|fencing
s|judo
s|rowing
s|surfing
s|rock climbing
s|skateboarding
s|road cycling
s|ice hockey
s|lacrosse
s|handball
s|sumo wrestling
s|archery
s|water polo
s|snooker
s|darts
s|ten-pin bowling
s|the board game Go
s|contract bridge
s|backgammon
s|mahjong
s|Scrabble
s|the triathlon
s|the decathlon
s|gymnastics
s|figure skating
s|ski jumping
s|Formula One racing
s|esports
s|netball
s|Australian rules football
s|orienteering
s|kabaddi
# arts and culture
a|jazz
a|the blues
a|hip-hop
a|opera
a|ballet
a|flamenco
a|origami
a|calligraphy
a|the sonnet
a|Gothic architecture
a|Art Deco
a|Cubism
a|Surrealism
a|pop art
a|street art
a|Renaissance painting
a|Japanese woodblock printing
a|stained glass
a|pottery
a|watercolour painting
a|oil painting
a|documentary filmmaking
a|animation
a|stop-motion animation
a|silent film
a|film noir
a|musical theatre
a|stand-up comedy
a|improv theatre
a|puppetry
a|folk music
a|country music
a|reggae
a|K-pop
a|Baroque music
a|Gregorian chant
a|mosaic art
a|quilting
a|embroidery
a|bonsai
a|the Japanese tea ceremony
a|magical realism
a|science fiction
a|detective fiction
a|comic books
a|manga
a|minimalist design
a|Bauhaus design
a|Brutalist architecture
a|the symphony
a|tango
a|Bollywood cinema
a|graphic novels
a|shadow puppetry
# practices, money and everyday life
l|budgeting
l|index fund investing
l|an emergency fund
l|minimalism
l|journaling
l|meal prepping
l|intermittent fasting
l|strength training
l|stretching
l|yoga
l|mindfulness
l|taking cold showers
l|remote work
l|the four-day work week
l|freelancing
l|buying a used car
l|carpooling
l|crop rotation
l|beekeeping
l|vertical farming
l|hydroponics
l|zero-waste living
l|buying second-hand
l|volunteering
l|spaced repetition
l|speed reading
l|touch typing
l|homeschooling
l|microfinance
l|crowdfunding
l|dollar-cost averaging
l|the debt snowball method
l|renters' insurance
l|online banking
l|peer-to-peer lending
l|time blocking
l|the Pomodoro technique
l|decluttering
l|native plant gardening
l|keeping backyard chickens
l|birdwatching
l|geocaching
l|a digital detox
l|using a standing desk
l|car sharing
l|learning a language with flashcards
l|co-living
l|community gardening
l|cycling to work
l|tipping customs around the world
# careers
j|air traffic controllers
j|paramedics
j|software testers
j|archaeologists
j|pharmacists
j|electricians
j|plumbers
j|architects
j|civil engineers
j|marine biologists
j|data analysts
j|translators
j|librarians
j|firefighters
j|park rangers
j|veterinarians
j|nurses
j|airline pilots
j|professional chefs
j|journalists
j|UX designers
j|accountants
j|actuaries
j|physical therapists
j|speech therapists
j|social workers
j|primary school teachers
j|museum curators
j|sound engineers
j|video game designers
j|farmers
j|commercial fishers
j|long-haul truck drivers
j|astronauts
j|meteorologists
j|cartographers
j|forensic scientists
j|zookeepers
j|sommeliers
j|carpenters
j|welders
j|project managers
j|diplomats
j|event planners
j|personal trainers
j|dietitians
j|midwives
j|court interpreters
j|wind turbine technicians
j|radiographers
""")


EXPLAIN_GENERIC_FOR_PEOPLE = [  # the generic templates that read well with a job ("paramedics")
    "What are three key facts about {t}?",
    "What is a common misconception about {t}, and what is the truth?",
    "What should a curious teenager know about {t}?",
    "In plain language, what is worth knowing about {t}?",
]


def _explanation_topics(rng: random.Random) -> list[list[str]]:
    groups = []
    for line in EXPLAIN_TOPICS:
        kind, topic = line.split("|")
        specific = _shuffled(rng, (t.format(t=topic) for t in EXPLAIN_KIND[kind]))
        generic = _shuffled(rng, (t.format(t=topic) for t in
                                  (EXPLAIN_GENERIC_FOR_PEOPLE if kind == "j" else EXPLAIN_GENERIC)))
        groups.append(_interleave(specific, generic))
    return groups


EXPLAIN_QUESTIONS = _lines("""
Why is the sky blue during the day but red at sunset?
Why do cats purr?
Why does ice float on water?
Why do onions make people cry?
Why do we get goosebumps?
Why does bread go stale?
Why do leaves change colour in autumn?
Why do some people need glasses?
Why do planes leave white trails in the sky?
Why is the ocean salty?
Why do we yawn?
Why do bubbles form when water boils?
Why do stars twinkle?
Why can't we see air?
Why do we have fingerprints?
Why do some animals sleep standing up?
Why do metal objects feel colder than wooden ones at the same temperature?
Why does the Moon look bigger near the horizon?
Why do boats float even when they are made of steel?
Why does popcorn pop?
Why do our voices sound different on recordings?
Why do mirrors flip left and right but not up and down?
Why does hot air rise?
Why do we dream?
Why does salt melt ice on roads?
Why do some countries drive on the left?
Why is a year 365 days long?
Why do we have leap years?
Why do clocks go forward in spring in some countries?
Why do cut apples turn brown?
Why do batteries lose charge when it is cold?
Why does a spinning top stay upright?
Why do we see lightning before we hear thunder?
Why do birds fly in a V shape?
Why do zebras have stripes?
Why do giraffes have such long necks?
Why is gold so valuable?
Why are most plants green?
Why do some foods taste spicy?
Why does chopping garlic change its smell?
Why do fizzy drinks go flat?
Why do we need to drink water every day?
Why do old books smell the way they do?
Why do computers need to be restarted sometimes?
Why does a phone get warm when it charges?
Why do prices go up over time?
Why do banks pay interest on savings?
Why do some words in English have silent letters?
Why are there different time zones?
Why do musical notes sound good together in some combinations?
Why do we feel dizzy after spinning around?
Why does the wind blow?
Why do our ears pop on airplanes?
Why do cats always seem to land on their feet?
Why is the number zero so important in mathematics?
What would happen if the Moon disappeared?
What would happen if everyone on Earth jumped at the same time?
What happens inside a cell when we exercise?
What happens to the food we eat after we swallow it?
What happens to recycled plastic bottles?
What happens to the water we flush down the toilet?
What happens to our bodies in space?
What happens in the brain when we learn something new?
What makes a bridge strong?
What makes a song catchy?
What makes a good password?
What makes some materials magnetic?
What makes the Dead Sea so salty?
What keeps satellites in orbit?
What keeps a bicycle upright while it moves?
What is inside the Earth?
What is the difference between weather and climate?
What is the difference between a virus and a bacterium?
What is the difference between a comet and an asteroid?
What is the difference between a simile and a metaphor?
What is the difference between a democracy and a republic?
What is the difference between stocks and bonds?
What is the difference between baking soda and baking powder?
What is the difference between an alligator and a crocodile?
What is the difference between a lake and a pond?
What is the difference between a hurricane, a typhoon and a cyclone?
What is the difference between speed and velocity?
What is the difference between mass and weight?
What is the difference between RAM and storage in a computer?
What is the difference between a psychologist and a psychiatrist?
What is the difference between an embassy and a consulate?
What is the difference between a dialect and a language?
What is the difference between rock music and metal?
What is the difference between a crisis and an emergency in management terms?
How do birds know where to migrate?
How do fish breathe underwater?
How do plants know which way is up?
How do noise-cancelling microphones filter out background sound?
How do whales communicate over long distances?
How do bees make honey?
How do spiders spin webs?
How do chameleons change colour?
How do vaccines train the immune system?
How do doctors measure blood pressure?
How do seeds know when to sprout?
How do engineers build tunnels under rivers?
How do lighthouses help ships at night?
How do maps show a round Earth on flat paper?
How do elections count millions of votes?
How do airlines decide ticket prices?
How do credit cards make money for banks?
How do scientists know how old a fossil is?
How do historians know what ancient people ate?
How do translators deal with jokes that don't translate?
How do children learn their first language?
How do we know how far away the stars are?
How do earthquakes get measured?
How do cities decide where to put new roads?
How do ocean waves form?
How do magnets stick to a fridge?
How do noise levels affect our health?
How do rainbows of colour appear in soap bubbles?
How do tides affect coastal wildlife?
How do hospitals keep operating rooms sterile?
""")


def _explanation_questions(rng: random.Random) -> list[list[str]]:
    tails = ["", " Keep it short.", " Explain it simply.", " Give one everyday example."]
    return [[q + t for t in _shuffled(rng, tails)][:2] for q in EXPLAIN_QUESTIONS]


# ---- chat -----------------------------------------------------------------------------------------------------

CHAT_SITUATIONS = _lines("""
I feel nervous before my driving test
I just moved to a new city and don't know anyone yet
My roommate keeps leaving dirty dishes in the sink
I have three deadlines on the same day next week
My coworker keeps taking credit for my ideas in meetings
I can't stop scrolling on my phone late at night
My teenager barely talks to me anymore
I failed an important exam and feel terrible
My best friend is moving abroad next month
I get anxious whenever I have to make a phone call
My neighbour's dog barks all night
I'm always running late in the mornings
I spend far too much money on takeaway food
I have a video job interview tomorrow morning
I'd like to ask someone out but I'm really shy
My parents want me to study law but I love art
I just got my first paycheck
I'm retiring next month and don't know what to do with my time
I feel lonely working from home every day
My six-year-old is scared of the dark
I want to cut down on sugar
I'm going camping for the first time this weekend
I have to give a toast at my brother's wedding
I accidentally broke my friend's favourite mug
I get stage fright before my piano recitals
I'm travelling to Japan for the first time
My manager only ever gives me vague feedback
I'm learning to drive and merging onto the motorway scares me
I have dozens of browser tabs open and feel overwhelmed
The leaves on my houseplant are turning yellow
My sourdough loaves come out flat every time
I'm hosting a big holiday dinner for the first time
My phone storage is always full
I need to tell my team that our project is delayed
I keep waking up at three in the morning
My sister and I argue whenever we talk about politics
I inherited a piano but I can't play it
I'm bored of my usual workout routine
I have a fourteen-hour flight coming up
My elderly father refuses to use a smartphone
I have to write a eulogy for my grandmother
I got a parking ticket that I think is unfair
My cat scratches the new sofa
I've been asked to speak at a conference for the first time
I just adopted a rescue dog who is very timid
I'm thinking about changing careers at 35
My friend always cancels plans at the last minute
I'm afraid of flying but I have to travel for work
I keep procrastinating on my thesis
I'm moving in with my partner next month
My kids fight over the TV remote every evening
I'm starting university in a few weeks
I can't decide what to study next year
I'm going to my first music festival
My vegetable garden is full of slugs
I'm hosting a book club meeting for the first time
I lost my wallet on the bus this morning
I want to run my first 5K in two months
A vegetarian guest is coming to our family barbecue
My laptop has become really slow
My landlord won't return my deposit
I feel really unmotivated this week
Our new puppy cries every night in its crate
I want to surprise my partner for our anniversary
I get headaches after long days at the computer
The people on my team at work don't get along
I need to turn down extra work without upsetting my boss
I've been asked to mentor a new colleague
My child wants a phone but I think they're too young
I'm learning to swim as an adult and feel embarrassed
I'm self-conscious about my accent at work
I feel guilty whenever I take a day off
I just finished my first half marathon and my legs are sore
My grandmother is coming to live with us
I have a job offer in another country
My friend group has started to drift apart
I keep forgetting people's birthdays
I'm starting a small online shop selling candles
I have a long commute and feel it wastes my time
My flatmate plays loud music while I'm trying to study
I want to get back into reading but I keep getting distracted
I just got promoted to team lead and I'm nervous
My toddler refuses to go to bed
I have to share a hotel room with a colleague on a work trip
I'm going on a first date on Friday
My wedding is in three months and nothing is planned
I overslept and missed an important appointment
My new shoes are giving me blisters
My friend asked to borrow a lot of money
I'm volunteering at an animal shelter for the first time
I said something hurtful to my brother during an argument
I keep comparing myself to people on social media
""")

CHAT_ASKS = _lines("""
Any tips?
What should I do?
How should I handle it?
Can you give me some advice?
What would you suggest?
Where do I even start?
How can I make this easier on myself?
What would you do in my place?
""")


def _chat_situations(rng: random.Random) -> list[list[str]]:
    return [[f"{s}. {a}" for a in _shuffled(rng, CHAT_ASKS)] for s in CHAT_SITUATIONS]


CHAT_EVENTS = {  # an event: whom it is for
    "a surprise birthday dinner": ["my dad", "my mum", "my partner", "my best friend", "my grandmother", "my sister"],
    "a retirement party": ["my dad", "my mum", "a colleague", "my boss", "our school caretaker", "my aunt"],
    "a baby shower": ["my sister", "my best friend", "a coworker", "my sister-in-law", "my cousin"],
    "an anniversary dinner": ["my partner", "my parents", "my grandparents", "my wife", "my husband"],
    "a picnic in the park": ["my book club", "my kids and their friends", "my coworkers", "my grandparents",
                             "my running club"],
    "a board game night": ["my roommates", "my coworkers", "my old school friends", "my teenage kids", "my neighbours"],
    "a weekend camping trip": ["my teenage son", "my partner", "my old school friends", "my daughter's scout group",
                               "my brother"],
    "a graduation party": ["my daughter", "my son", "my niece", "my best friend", "my nephew"],
    "a housewarming party": ["my partner and me", "my roommates and me", "my sister", "my best friend"],
    "a road trip along the coast": ["my partner", "my two kids", "my old school friends", "my dad", "my best friend"],
    "a family reunion": ["my mum's side of the family", "about thirty relatives", "my grandparents' family",
                         "cousins I haven't seen in years"],
    "a farewell party": ["a coworker who is moving abroad", "my neighbours", "my best friend", "my team lead",
                         "our exchange student"],
    "a movie marathon night": ["my roommates", "my kids", "my partner", "my friends"],
    "a backyard barbecue": ["my neighbours", "my coworkers", "my running club", "my in-laws",
                            "my son's football team"],
    "a garden tea party": ["my grandmother", "my daughter's friends", "my book club", "my mum"],
    "a costume party": ["my friends", "my kids", "my coworkers", "my roommates"],
    "a charity bake sale": ["my kids' school", "our local library", "our community centre", "an animal shelter"],
    "a neighbourhood clean-up day": ["my street", "our block of flats", "the local park", "my kids' school"],
    "a small wedding": ["my partner and me", "my sister", "my best friend", "my dad and his new wife"],
    "a team-building afternoon": ["my team at work", "a group of new hires", "our volunteer group", "my students"],
    "a sleepover": ["my daughter and her friends", "my son's birthday", "my niece and nephew", "my kids"],
    "a pizza-making evening": ["my kids", "my roommates", "my in-laws", "my friends"],
    "a day hike": ["my teenage son", "my coworkers", "my partner", "a group of beginners"],
    "a holiday gift exchange": ["my coworkers", "my extended family", "my friends", "my book club"],
    "a welcome-home party": ["my brother, who is back from a year at sea", "my sister, who is back from a year abroad",
                             "my grandmother after her hospital stay", "my best friend"],
}

CHAT_PLAN_FORMS = _lines("""
Can you help me plan {e} for {p}?
I'm organizing {e} for {p}. What should I think about?
Help me put together {e} for {p} on a small budget.
What would make {e} for {p} really special?
Give me a simple plan for {e} for {p}.
I've got two weeks to organize {e} for {p}. Where do I start?
""")


def _chat_planning(rng: random.Random) -> list[list[str]]:
    groups = []
    for e, people in CHAT_EVENTS.items():
        people, forms = _shuffled(rng, people), _shuffled(rng, CHAT_PLAN_FORMS)
        groups.append([forms[i % len(forms)].format(e=e, p=p) for i, p in enumerate(people)])
    return groups


CHAT_SKILLS = _lines("""
knitting
the piano
swimming
photography
Spanish
Mandarin
coding
watercolour painting
juggling
skateboarding
salsa dancing
rock climbing
cake decorating
woodworking
sewing
singing
the ukulele
the drums
calligraphy
yoga
sign language
Latin
video editing
3D modelling
graphic design
surfing
skiing
ice skating
tennis
golf
birdwatching
fishing
archery
pottery
origami
magic tricks
crochet
beekeeping
Thai cooking
bike repair
basic car maintenance
speed reading
poetry writing
songwriting
spreadsheets
data analysis
web design
the harmonica
the violin
the cello
the saxophone
Morse code
stargazing with a small telescope
bouldering
kayaking
horse riding
tai chi
boxing
chess openings
public speaking in English
""")

CHAT_SKILL_FORMS = _lines("""
How do I get started with {s}?
I'd love to learn {s}. Where do I begin?
What's the best way to practise {s} if I only have 20 minutes a day?
I'm in my forties. Is it too late to learn {s}?
How long does it usually take to get decent at {s}?
What mistakes do beginners make when learning {s}?
Can you make me a four-week plan for learning {s}?
I've tried {s} before and gave up. How can I stick with it this time?
What do I need to buy to get started with {s}?
""")


def _chat_skills(rng: random.Random) -> list[list[str]]:
    return [[f.format(s=s) for f in _shuffled(rng, CHAT_SKILL_FORMS)] for s in CHAT_SKILLS]


CHAT_HOWTO = _lines("""
How do I get a red wine stain out of a carpet?
How can I make my small apartment feel bigger?
What's the best way to pack a suitcase so my clothes don't wrinkle?
How do I unclog a bathroom sink without harsh chemicals?
How often should I wash my bedsheets?
How do I jump-start a car safely?
How can I make my phone battery last longer?
How do I choose a ripe watermelon?
How do I keep bananas from going brown so fast?
What's a polite way to end a phone call that's going on too long?
How do I write a thank-you card for a wedding gift?
How do I get my toddler to eat vegetables?
What's the easiest way to back up all my photos?
How should I store fresh herbs so they last?
How do I iron a shirt properly?
How do I hang a picture frame straight?
How can I stop my glasses from fogging up when I wear a scarf?
How do I get rid of fruit flies in the kitchen?
How do I clean a cast-iron pan without ruining it?
How do I remove a screw with a stripped head?
How do I tie a tie?
How do I keep cut flowers fresh for longer?
What's the best way to wake up without an alarm clock?
How do I deal with a noisy upstairs neighbour?
How do I sew a button back on?
How do I measure my ring size at home?
How can I reduce the echo in my home office?
How do I keep my dog calm during fireworks?
How can I stop hitting the snooze button?
How do I make cold brew coffee at home?
How do I fold a fitted sheet?
How do I defrost a freezer quickly?
How can I keep my windows from steaming up in winter?
How can I sleep better when my bedroom is hot?
How do I split household chores fairly with my roommates?
How do I politely remind a friend about money they owe me?
How do I start a conversation at a networking event?
How do I stop overthinking every text message I send?
How do I patch a small hole in a plaster wall?
How do I reset my home router?
How do I write a complaint to a company that actually gets a response?
How do I teach my kid to ride a bike?
How do I stop my cat waking me up at five in the morning?
How can I make a cheap dinner feel special?
What can I do with a lot of leftover rice?
How do I season food well without using much salt?
How can I make my garden friendlier to bees and butterflies?
How can I stay warm at home without turning up the heating?
How do I pick a good avocado at the shop?
How do I get rid of a bad smell in my fridge?
How do I descale a kettle?
How can I stop my trainers from smelling?
How do I memorize a short speech?
How can I get my kids ready for school faster in the morning?
How do I fix a squeaky door hinge?
How do I clean my laptop keyboard safely?
How do I choose a strong password I can actually remember?
How can I tell if a phone call is a scam?
How do I plan a week of meals?
How can I be more patient with my kids?
How do I say sorry to my partner after an argument?
How do I support a friend who is going through a breakup?
How do I ask my neighbour to trim the tree that hangs over my garden?
How can I look after my back when I work at a desk all day?
How should I treat a minor kitchen burn?
What should I do if I get stung by a bee?
How can I keep my energy up in the afternoon?
How can I cut down on coffee without getting headaches?
How do I keep a sourdough starter alive while I'm on holiday?
How do I get candle wax off a tablecloth?
How do I make my houseplants bushier?
How do I keep my car from smelling musty?
How do I stop my headphones cable from tangling?
How do I pick a good book for a long train ride?
How do I keep track of my spending without an app?
How can I make my resume stand out for a first job?
How do I tell my boss I'm feeling overworked?
How do I get better at remembering what I read?
How can I make small talk less awkward?
How do I prepare my garden for winter?
How do I find a good dentist in a new town?
How do I stop my bike chain from squeaking?
How can I save on heating bills this winter?
How do I make my morning commute less stressful?
How do I keep my kids busy on a long car journey?
How do I write a good online dating profile?
How do I say no to a wedding invitation politely?
How do I care for a leather jacket?
How can I get rid of hiccups quickly?
How do I make a simple vegetable soup from what's in my fridge?
How do I keep my shoes from slipping on icy pavements?
How do I stop my baby's sleep schedule from falling apart when we travel?
How do I choose the right size of bike?
How do I clean a very dirty oven?
How do I tell if eggs are still fresh?
How do I get my teenager off their phone at dinner?
How can I make friends at work when everyone is remote?
How do I organize a messy garage?
How do I stop a dripping tap?
How do I get better at saying what I mean in meetings?
How can I keep my houseplants alive while I'm away for two weeks?
How do I prepare for my first parent-teacher meeting?
How do I pack lunch for work that isn't boring?
How can I make a rented flat feel more like home?
How do I keep moths away from my wool jumpers?
How do I get over jet lag faster after a long trip?
How can I stop losing my keys?
How do I calm down before a difficult conversation?
How can I help my elderly neighbour without being intrusive?
""")


def _chat_howto(rng: random.Random) -> list[list[str]]:
    tails = ["", " Please keep it brief.", " Just the key points, please."]
    return [[q + t for t in _shuffled(rng, tails)][:2] for q in CHAT_HOWTO]


CHAT_RECOMMEND = {
    "board game": ["a family with young kids", "two players who love strategy", "a group of eight at a party",
                   "people who don't usually like games"],
    "houseplant": ["a dark bathroom", "someone who travels a lot", "a sunny windowsill", "a home with cats"],
    "podcast": ["a long drive", "learning about history", "falling asleep", "my walk to work"],
    "novel": ["a rainy weekend", "a teenager who says reading is boring", "someone who loves mysteries",
              "a beach holiday"],
    "film": ["a cosy night in", "a family movie night with young kids", "a first date at home",
             "someone who likes science fiction"],
    "hobby": ["someone who works at a computer all day", "a retired teacher", "a restless ten-year-old",
              "a person on a tight budget"],
    "weekend trip": ["a couple who love food", "a family with a toddler", "someone who loves hiking",
                     "a group of students"],
    "exercise routine": ["a busy parent", "someone with bad knees", "a beginner who hates running",
                         "an office worker with twenty minutes at lunch"],
    "breakfast": ["someone who is always in a rush", "a long Sunday morning", "a runner before a race",
                  "a child who is a fussy eater"],
    "name": ["my new goldfish", "a small bakery", "a neighbourhood running club", "a family group chat"],
    "card game": ["two people on a train", "a group of kids", "a camping trip", "grandparents and grandchildren"],
    "study technique": ["a history exam", "learning vocabulary", "a maths test", "someone who gets distracted easily"],
    "dessert": ["a dinner party", "someone who can't eat gluten", "a hot summer day", "a kids' birthday"],
    "video game": ["playing with my dad", "a relaxing evening", "a friend who never plays games",
                   "short breaks at work"],
    "song": ["a long run", "a road trip playlist", "a first dance at a wedding", "cleaning the house"],
    "day out": ["a rainy Saturday in the city", "a family with teenagers", "my grandparents", "a couple on a budget"],
}

CHAT_RECOMMEND_FORMS = [
    "Can you recommend {a_thing} for {c}?",
    "I'm looking for {a_thing} for {c}. Any suggestions?",
    "What would be a good {thing} for {c}?",
    "Suggest {a_thing} for {c}, and tell me why you chose it.",
]


def _chat_recommend(rng: random.Random) -> list[list[str]]:
    groups = []
    for thing, contexts in CHAT_RECOMMEND.items():
        for c in contexts:
            groups.append([f.format(a_thing=_a(thing), thing=thing, c=c)
                           for f in _shuffled(rng, CHAT_RECOMMEND_FORMS)][:2])
    return groups


CHAT_FUN_SUBJECTS = _lines("""
space
the deep ocean
honey
the human brain
penguins
ancient Rome
bananas
trains
the English language
chess
ants
the Moon
clouds
money
octopuses
the Olympics
dinosaurs
tea
bridges
the human body
owls
pizza
libraries
mountains
computers
cats
the alphabet
maps
bicycles
bees
""")

CHAT_FUN_FORMS = [
    "Tell me a fun fact about {s}.",
    "Tell me a joke about {s}.",
    "What's the most surprising thing you know about {s}?",
    "Give me a quick quiz question about {s}.",
    "Share something about {s} that would impress my friends.",
]

CHAT_SMALL_TALK = _lines("""
Good evening! What's a nice way to wind down after a long day?
Hey, I'm having a slow afternoon. Can you entertain me for a bit?
If you could have dinner with any historical figure, who would you pick?
Do you think people were happier before smartphones?
What's a good question to ask my grandparents about their childhood?
Tell me something that will make me smile.
What's a word you think more people should use?
Give me a riddle to solve.
Would you rather be able to fly or to breathe underwater?
What's the best way to spend the first hour of a Saturday?
I just finished a great book and feel a bit empty. Is that normal?
What do you think makes a place feel like home?
What's a small habit that can make a big difference?
I'm proud of myself today because I cooked a meal from scratch!
What's something interesting I could learn in ten minutes?
Do you think it's better to be a morning person or a night owl?
What's a good conversation starter for a dinner with people I barely know?
Guess what, I finally finished painting my bedroom!
I'm having a lazy Sunday. Any ideas for something fun but easy?
What's your advice for someone who wants to be more curious?
Which season do you think is best for travelling, and why?
I'm feeling a bit homesick today. Can you talk with me for a while?
What's a good way to celebrate a small win at work?
Can you cheer me up after a rough week?
What's a hobby that doesn't cost much money?
Do you think handwriting still matters in the age of keyboards?
Is it weird that I enjoy doing laundry?
What's the best piece of advice you'd give a new parent?
If I had one free day with no obligations, how should I spend it?
Can you give me a compliment to start my day?
""")


def _chat_fun(rng: random.Random) -> list[list[str]]:
    groups = [[f.format(s=s) for f in _shuffled(rng, CHAT_FUN_FORMS)][:2] for s in CHAT_FUN_SUBJECTS]
    return groups + [[q] for q in CHAT_SMALL_TALK]


CHAT_DECISIONS = _lines("""
Should I take a gap year or go straight to university?
Should I buy a new laptop or repair my old one?
Should I learn the guitar or the piano first?
Is it better to exercise in the morning or in the evening?
Should I pay off my student loan early or invest the money?
Should I get a cat or a dog?
Is it worth buying a dishwasher for a two-person household?
Should I take the job with the higher salary or the one with the shorter commute?
Should I go to my friend's party or stay in and rest?
Is it better to buy a new car or a used one?
Should I study abroad for a semester?
Should I tell my friend that her boyfriend is rude to waiters?
Should I move back to my hometown?
Is it worth learning to code if I work in marketing?
Should I go freelance or stay in my stable job?
Should I repaint my kitchen myself or hire someone?
Should I get an e-reader or keep buying paper books?
Should I join a gym or work out at home?
Should I confront my neighbour about their noisy parties?
Should we have a big wedding or a small one?
Is it better to rent in the city centre or buy in the suburbs?
Should I tell my boss I'm looking for another job?
Should I take a holiday now or save the money?
Should I let my twelve-year-old walk to school alone?
Should I get a standing desk for working from home?
Should I sign up for a marathon or start with a half?
Should I switch my major from biology to computer science?
Should I lend my car to my younger brother?
Should I buy a house with a friend?
Should I do a master's degree or get work experience first?
Should I go back to the office or keep working remotely?
Should I cut my long hair short?
""")

CHAT_DECISION_TAILS = [" What would you weigh up?", " Help me think it through.", " What are the pros and cons?", ""]


def _chat_decisions(rng: random.Random) -> list[list[str]]:
    return [[q + t for t in _shuffled(rng, CHAT_DECISION_TAILS)] for q in CHAT_DECISIONS]


CHAT_GIFT_PEOPLE = ["my mum", "my dad", "my grandfather", "my best friend", "my boss", "my sister-in-law",
                    "a coworker who is leaving", "my eight-year-old nephew", "my teenage niece", "my partner",
                    "my neighbour who helped me move", "my child's teacher"]
CHAT_GIFT_INTERESTS = _lines("""
loves gardening
is into cooking Italian food
has just started running
reads a lot of crime novels
likes camping and the outdoors
is obsessed with coffee
plays the guitar
is learning Japanese
enjoys board games
is moving into a new flat
loves birdwatching
is always cold
travels a lot for work
has everything already
likes building model trains
enjoys painting
is a huge football fan
loves baking bread
does a lot of yoga
is starting university
""")

CHAT_GIFT_FORMS = [
    "What's a good gift for {p}, who {i}?",
    "I need a present for {p}, who {i}. Any ideas under 40 dollars?",
    "Help me choose a birthday gift for {p}, who {i}.",
]


def _chat_gifts(rng: random.Random) -> list[list[str]]:
    groups = []
    for i in CHAT_GIFT_INTERESTS:
        people = _shuffled(rng, CHAT_GIFT_PEOPLE)
        groups.append([rng.choice(CHAT_GIFT_FORMS).format(p=p, i=i) for p in people])
    return groups


CHAT_INTERACTIVE = _lines("""
Quiz me on the capital cities of Europe.
Let's play twenty questions. I'm thinking of an animal.
Can you help me brainstorm names for my new bakery?
Pretend you're a tour guide in Lisbon and welcome me to the city.
Can you help me practise ordering food in French?
Ask me five questions to help me figure out what career might suit me.
Play the role of a job interviewer for a retail position and ask me the first question.
Help me practise small talk. You start.
Can you test my knowledge of the solar system with a few questions?
Let's write a story together. You write the first two sentences.
Give me a word and I'll try to make a sentence with it.
Can you be my study buddy and quiz me on basic chemistry terms?
Help me come up with a name for my fantasy football team.
Can you help me practise for a spelling bee?
Let's play a word association game.
Pretend you're a barista and take my coffee order.
Can you help me prepare answers for common interview questions?
Act as a patient maths tutor and help me understand long division.
Can you give me three questions to ask at the end of a job interview?
Help me decide what to cook tonight by asking me a few questions.
Quiz me on famous paintings and who painted them.
Can you help me practise saying no politely? You play my pushy friend.
Let's do a quick trivia round about world rivers.
Can you help me warm up my Spanish with a short conversation about the weather?
Test me on the times tables with five questions.
Pretend you're a travel agent and help me choose a holiday.
Help me brainstorm a theme for my daughter's school science fair project.
Let's have a friendly debate: are books better than films?
Can you help me write a to-do list for moving house?
Ask me questions to help me plan a vegetable garden.
Help me come up with a catchy name for my podcast about local history.
Pretend you're a librarian and help me find a book I'd enjoy.
""")


def _chat_interactive(rng: random.Random) -> list[list[str]]:
    return [[q] for q in CHAT_INTERACTIVE]


# ---- code -----------------------------------------------------------------------------------------------------

CODE_LANGS = ["Python", "JavaScript", "C", "Rust", "Go", "Java"]

# "!" marks a task that needs more than C's standard library offers comfortably (no C version).
CODE_TASKS = _lines("""
reverses the order of the words in a sentence
checks whether a string has balanced parentheses
returns the second largest number in an array
converts a Roman numeral to an integer
converts an integer to a Roman numeral
counts the number of set bits in an integer
computes the running total of an array of numbers
removes all vowels from a string
checks whether a year is a leap year
finds the longest word in a sentence
converts a non-negative integer to its binary representation as a string
returns the n-th triangular number
computes the dot product of two vectors
multiplies two matrices
implements a stack with push, pop and peek
finds all pairs of numbers in an array that add up to a target
splits an array into chunks of size k
returns the numbers that appear in both of two arrays
checks whether a number is a perfect square without using a square root function
computes the median of an array of numbers
generates the first n prime numbers
counts the words in a piece of text
converts a string to title case
checks whether an array is sorted in ascending order
interleaves two arrays into one
converts a number of seconds into hours, minutes and seconds
compresses a string with run-length encoding
decodes a run-length encoded string
checks that a password has at least 8 characters, a digit and an uppercase letter
returns all permutations of a short string
finds the most frequent element in an array
computes the edit distance between two strings
implements insertion sort
implements selection sort
implements merge sort
implements quicksort
finds the missing number in an array containing 1 to n with one number missing
checks whether a string is a valid IPv4 address
converts a hex colour code like #FF8800 to red, green and blue values
returns the prime factors of a number
computes the least common multiple of two numbers
formats an integer with thousands separators
computes the number of days between two dates given as year, month and day
shuffles an array with the Fisher-Yates algorithm
implements a queue using two stacks
reverses a singly linked list
computes the depth of a binary tree
!performs a breadth-first search on a graph given as an adjacency list
!detects a cycle in a directed graph
finds the length of the shortest path between two cells in a grid maze
!implements a small least-recently-used cache
prints Pascal's triangle up to n rows
checks whether a sentence is a pangram
converts a snake_case identifier to camelCase
truncates a string to n characters and adds an ellipsis
finds the longest common prefix of an array of strings
rotates a square matrix by 90 degrees
sums the main diagonal of a square matrix
checks whether a row of a Sudoku grid is valid
computes the moving average of an array with a window of size k
clamps a number between a minimum and a maximum
counts the characters in a string, ignoring spaces
finds the k largest numbers in an array
splits an array into even and odd numbers
checks whether two rectangles on a grid overlap
converts a temperature from Fahrenheit to Celsius
!counts how many times each letter appears in a string
trims leading and trailing spaces from a string without using a built-in trim
checks whether a number is an Armstrong number
computes x to the power n by repeated squaring
finds the first character in a string that does not repeat
returns the digits of a number in reverse order
checks whether a binary tree is a valid binary search tree
evaluates an arithmetic expression written in postfix notation
counts the lines, words and characters in a string
removes duplicates from a sorted array in place
finds a peak element in an array
computes the Hamming distance between two strings of equal length
wraps text to a given line width
escapes the HTML special characters in a string
computes a simple checksum of an array of bytes
!groups a list of words into sets of anagrams
returns the index of a target in a rotated sorted array
finds the maximum sum of a contiguous subarray
merges overlapping intervals
checks whether a number reads the same backwards, without converting it to a string
counts the islands of 1s in a grid of 0s and 1s
computes the square root of a number with Newton's method
validates a credit card number with the Luhn check
converts a string of digits into the words for each digit
generates all subsets of a small set of numbers
draws a text histogram from an array of counts
finds the majority element of an array if one exists
implements a simple binary heap
returns the n-th row of a multiplication table
""")

CODE_FORMS = _lines("""
Write a {L} function that {task}.
Write a {L} function that {task}, and explain how it works.
In {L}, how would I write a function that {task}?
Show me {L} code that {task}, with a couple of test cases.
Implement a {L} function that {task}. Keep it short and add comments.
Write {L} code that {task} and explain its time complexity.
I need a {L} function that {task}. What's a clean way to do it?
Give me an idiomatic {L} solution: a function that {task}.
""")


def _code_functions(rng: random.Random) -> list[list[str]]:
    groups = []
    for task in CODE_TASKS:
        langs = [lang for lang in CODE_LANGS if not (task.startswith("!") and lang == "C")]
        task = task.lstrip("!")
        langs, forms = _shuffled(rng, langs), _shuffled(rng, CODE_FORMS)
        groups.append([forms[i % len(forms)].format(L=lang, task=task) for i, lang in enumerate(langs)])
    return groups


CODE_SQL = _lines("""
finds the three most expensive items in a table products(id, name, price)
lists every customer who has never placed an order, given customers(id, name) and orders(id, customer_id, total)
returns the total sales per month from a table sales(id, amount, sold_at)
finds duplicate email addresses in a table users(id, email)
shows each department's average salary from employees(id, name, department, salary)
finds the employees who earn more than their department's average, from employees(id, name, department, salary)
lists the five most borrowed books from loans(id, book_id, borrowed_at) and books(id, title)
counts how many students are enrolled in each course, from enrollments(student_id, course_id)
deletes rows older than 90 days from a table logs(id, message, created_at)
returns the second highest salary from employees(id, salary)
joins orders(id, customer_id, total) with customers(id, name, city) and sums the totals per city
lists products that have never been reviewed, given products(id, name) and reviews(id, product_id, stars)
finds the average review score per product, only for products with at least ten reviews
ranks players by score within each team, from scores(player, team, points)
creates a table for storing blog posts with a title, body, author and publication date
updates the price of every product in the 'garden' category by 10 percent
finds customers who placed orders in two consecutive months
lists each author with the number of books they wrote, from books(id, title, author_id) and authors(id, name)
returns the busiest hour of the day from visits(id, visited_at)
finds flights that leave and arrive on different days, from flights(id, departs_at, arrives_at)
computes a running total of deposits per account from transactions(account_id, amount, made_at)
lists the cities that have more than 100 customers, from customers(id, city)
finds the most recent order of every customer, from orders(id, customer_id, placed_at)
returns every pair of employees who share a manager, from employees(id, name, manager_id)
counts the rows with a missing phone number in contacts(id, name, phone)
""")

CODE_SQL_FORMS = [
    "Write a SQL query that {t}.",
    "How would I write a SQL query that {t}?",
    "Give me a SQL statement that {t}, and explain each clause.",
    "Using standard SQL, write a query that {t}.",
]

CODE_BASH = _lines("""
finds every .log file larger than 10 MB under a directory
renames every .jpeg file in a folder to .jpg
counts how many times each IP address appears in a web server access log
backs up a directory into a tar.gz file named with today's date
prints the ten largest files in the current directory
checks whether a website responds with HTTP status 200
deletes files older than 30 days from a folder
prints a warning when disk usage goes above 90 percent
prints each line of a file with its line number
replaces one word with another in every .txt file of a folder
counts the lines of code in all .py files of a project
downloads a list of URLs from a text file, one per line
waits until a given port on localhost accepts connections
shows the five processes using the most memory
creates a folder for each month of the current year
converts every .png image in a folder to .jpg using ImageMagick
finds the files that differ between two directories
retries a command up to five times until it succeeds
extracts the email addresses from a text file
monitors a log file and prints lines that contain ERROR
prints the total size of each subfolder, sorted from largest to smallest
archives and removes log files from last week
""")

CODE_BASH_FORMS = [
    "Write a Bash script that {t}.",
    "Give me a Bash one-liner that {t}.",
    "How can I write a shell command that {t}?",
    "Write a small Bash script that {t}, with comments explaining each step.",
]


def _code_sql_bash(rng: random.Random) -> list[list[str]]:
    return ([[f.format(t=t) for f in _shuffled(rng, CODE_SQL_FORMS)][:2] for t in CODE_SQL]
            + [[f.format(t=t) for f in _shuffled(rng, CODE_BASH_FORMS)][:2] for t in CODE_BASH])


CODE_DIFFERENCES = _lines("""
Python|a list and a generator
Python|`copy` and `deepcopy`
Python|`@staticmethod` and `@classmethod`
Python|`*args` and `**kwargs`
Python|`append` and `extend`
Python|a module and a package
JavaScript|`let`, `const` and `var`
JavaScript|`==` and `===`
JavaScript|promises and callbacks
JavaScript|`null` and `undefined`
JavaScript|arrow functions and regular functions
C|the stack and the heap
C|`malloc` and `calloc`
C|a pointer and an array
C|`struct` and `union`
Rust|`String` and `&str`
Rust|`Box` and `Rc`
Rust|`Option` and `Result`
Rust|`clone` and `copy`
Go|arrays and slices
Go|value receivers and pointer receivers
Go|buffered and unbuffered channels
Java|an interface and an abstract class
Java|`ArrayList` and `LinkedList`
Java|checked and unchecked exceptions
Java|`==` and `.equals()`
SQL|`INNER JOIN` and `LEFT JOIN`
SQL|`WHERE` and `HAVING`
SQL|`UNION` and `UNION ALL`
SQL|`DELETE` and `TRUNCATE`
Bash|single quotes and double quotes
Bash|`$@` and `$*`
Bash|`>` and `>>`
""")

CODE_DIFF_FORMS = [
    "What is the difference between {a} in {L}?",
    "Explain the difference between {a} in {L} with a short example.",
    "In {L}, when should I use each of {a}?",
]

CODE_CONCEPTS = _lines("""
closures
memoization
dependency injection
race conditions
deadlocks
immutability
pure functions
type inference
garbage collection
pointers
generics
iterators
lazy evaluation
the event loop
REST APIs
regular expressions
Git branches
containers such as Docker
caching
binary search trees
heaps
tries
dynamic programming
hashing
threads versus processes
asynchronous programming
design patterns
the singleton pattern
test-driven development
continuous integration
code refactoring
SQL injection
cross-site scripting
floating-point rounding errors
integer overflow
tail recursion
polymorphism
inheritance versus composition
interfaces
serialization
websockets
environment variables
semantic versioning
logging levels
mocking in unit tests
linting
the difference between compiled and interpreted languages
virtual machines
DNS
load balancing
database transactions
database normalization
indexes in databases
message queues
""")

CODE_CONCEPT_FORMS = [
    "Explain {c} with a short {L} example.",
    "Can you give me an intuitive explanation of {c}?",
    "What should a junior developer know about {c}?",
]


def _code_concepts(rng: random.Random) -> list[list[str]]:
    groups = []
    for line in CODE_DIFFERENCES:
        lang, a = line.split("|")
        groups.append([f.format(a=a, L=lang) for f in _shuffled(rng, CODE_DIFF_FORMS)][:2])
    for c in CODE_CONCEPTS:
        groups.append([f.format(c=c, L=rng.choice(CODE_LANGS)) for f in _shuffled(rng, CODE_CONCEPT_FORMS)][:2])
    return groups


CODE_TOOLS = _lines("""
What does `git rebase` do, and when should I use it instead of `git merge`?
How do I undo my last Git commit but keep the changes?
How do I resolve a merge conflict in Git?
What is a `.gitignore` file and what should go in it?
How do I write a good commit message?
What does `git stash` do?
How do I create and switch to a new branch in Git?
What is a Dockerfile? Show a small example for a Python web app.
What is the difference between a Docker image and a container?
How do I find out which process is using port 8080 on Linux?
What does `chmod 755` mean?
How do I set up a Python project with a requirements file?
How do I read command-line arguments in a Python script?
How do I make an HTTP GET request in JavaScript with `fetch`?
How do I parse JSON in Go?
How do I read a file line by line in Rust?
How do I write a unit test in Java with JUnit?
How do I format dates in JavaScript?
What does this Python code print, and why? `print([x * x for x in range(6) if x % 2 == 0])`
What does this JavaScript print, and why? `console.log([1, 2, 3].map(n => n * 2).join("-"))`
Why does this Python function return None? `def double(x): x * 2`
What is wrong with this C loop? `for (int i = 0; i <= 10; i++) arr[i] = 0;` when `arr` has 10 elements.
Why does `0.1 + 0.2` not equal `0.3` in most programming languages?
How do I debug a Python script that crashes without a clear error message?
What is a stack trace and how do I read one?
How can I make a slow SQL query faster?
How do I profile a Python program to find what is slow?
What is the difference between HTTP GET and POST requests?
How do cookies and sessions work in a web application?
How do I store passwords safely in a database?
What is CORS and why does my browser block my request?
What are the main HTTP status codes a web developer should know?
How do I write a simple HTML form that sends a name and an email?
How do I center a div with CSS?
What is the difference between CSS grid and flexbox?
How do I make a website work well on mobile phones?
What is an environment variable and how do I set one in Bash?
How do I schedule a script to run every night with cron?
How do I connect to a remote server with SSH keys instead of a password?
What is a virtual environment in Python and why should I use one?
How do I handle errors in Go?
What does the `?` operator do in Rust?
How do I read user input from the keyboard in C?
How do I write a simple class in JavaScript?
How do I sort a list of objects by a field in Java?
What are Python type hints and should I use them?
How do I write a function with a default argument in Python, and what is the common pitfall?
What is the difference between `async` and `await` in JavaScript?
How do I split a large function into smaller ones?
What makes code readable?
""")


def _code_tools(rng: random.Random) -> list[list[str]]:
    return [[q] for q in CODE_TOOLS]


# ---- math -----------------------------------------------------------------------------------------------------

NAMES = _lines("""
Amara
Ben
Carla
Dev
Elif
Felix
Grace
Hamid
Ingrid
Jonas
Keiko
Luis
Mei
Nadia
Omar
Priya
Quinn
Rosa
Sami
Tariq
Uma
Victor
Wen
Yusuf
Zoe
Aiko
Bruno
Chidi
Dara
Esther
Farah
Gabe
Hana
Ivan
Jade
Kofi
Lena
Marco
Nia
Oskar
Pablo
Rhea
Sven
Tomas
Ayesha
Leo
Maya
Noah
Sofia
Theo
""")

COUNTABLES = ["marbles", "stickers", "pencils", "cupcakes", "seashells", "trading cards", "postcards", "tulip bulbs",
              "buttons", "paper cranes", "lemons", "eggs", "bolts", "beads", "comic books", "coins", "bottle caps",
              "plant cuttings", "jars of jam", "tennis balls"]
PRODUCTS = ["bicycle", "rice cooker", "winter coat", "desk lamp", "pair of hiking boots", "backpack", "blender",
            "tent", "guitar", "office chair", "phone case", "toaster", "set of paints", "scooter", "kettle"]
VEHICLES = ["train", "bus", "cyclist", "delivery van", "ferry", "car", "truck", "motorbike"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve"]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _money(x: float) -> str:
    return f"${x:,.2f}" if x != int(x) else f"${int(x):,}"


def _math_templates() -> list:
    """Problem templates: each takes an RNG and returns one problem (wording, entities and numbers drawn from
    it; most templates have several phrasings or settings, so that numbers are not the only difference)."""
    T = []

    def t(f):
        T.append(f)
        return f

    @t
    def _(r):
        n, a, b, c = r.choice(NAMES), r.randint(3, 9), r.randint(4, 12), r.randint(2, 10)
        item = r.choice(COUNTABLES)
        who = r.choice(["a neighbour", "a cousin", "the school fair", "a friend", "the library sale"])
        return (f"{n} buys {a} packs of {item} with {b} in each pack, then gives {c} to {who}. "
                f"How many {item} does {n} have left?")

    @t
    def _(r):
        v = r.choice(VEHICLES)
        s1, t1, s2, t2 = r.randint(4, 12) * 5, r.randint(1, 4), r.randint(4, 12) * 5, r.randint(1, 3)
        return (f"A {v} travels at {s1} km/h for {_plural(t1, 'hour')} and then at {s2} km/h for "
                f"{_plural(t2, 'hour')}. How far does it travel in total, and what is its average speed?")

    @t
    def _(r):
        n1, n2 = r.sample(NAMES, 2)
        a, b = r.choice([(3, 6), (4, 12), (2, 3), (5, 20), (6, 12), (10, 15), (4, 6)])
        job = r.choice(["paint a fence", "weed a garden", "sort a pile of letters", "wash the team's kit",
                        "assemble a bookshelf", "clear the snow from a car park", "pick a row of apple trees"])
        return (f"{n1} can {job} in {a} hours and {n2} can do it in {b} hours. "
                f"How long does it take if they work together?")

    @t
    def _(r):
        p = r.choice(PRODUCTS)
        a = r.randint(8, 60) * 5
        b = a + r.choice([5, 10, 15, 20, 25, 30, 40, 50])
        return r.choice([
            f"The price of a {p} rose from {_money(a)} to {_money(b)}. What was the percentage increase?",
            f"Last year a {p} cost {_money(a)}; now it costs {_money(b)}. By what percentage has the price gone up?",
            f"A shop raised the price of its {p} from {_money(a)} to {_money(b)}. Work out the percentage rise.",
        ])

    @t
    def _(r):
        p = r.choice(PRODUCTS)
        a, d, tax = r.randint(10, 90) * 5, r.choice([10, 15, 20, 25, 30]), r.choice([5, 8, 10, 12])
        return (f"A {p} costs {_money(a)}. It is discounted by {d}%, and then {tax}% sales tax is added. "
                f"What is the final price?")

    @t
    def _(r):
        n, a, rate, y = r.choice(NAMES), r.randint(5, 50) * 100, r.choice([2, 3, 4, 5, 6]), r.randint(2, 8)
        return r.choice([
            f"{n} puts {_money(a)} in a savings account that pays {rate}% simple interest per year. "
            f"How much interest has been earned after {y} years?",
            f"{n} lends a friend {_money(a)} at {rate}% simple interest a year. How much must be paid back "
            f"after {y} years?",
        ])

    @t
    def _(r):
        a, b, k = r.randint(2, 5), r.randint(1, 4), r.randint(2, 5)
        food = r.choice(["flour to sugar", "rice to water", "oats to milk", "flour to butter", "sand to cement",
                         "blue paint to white paint"])
        first, second = food.split(" to ")
        unit = "buckets" if "cement" in food or "paint" in food else "cups"
        return (f"A mix uses {a} {unit} of {first} for every {b} {unit} of {second}. "
                f"How much {second} is needed with {a * k} {unit} of {first}?").replace(
                    "1 cups", "1 cup").replace("1 buckets", "1 bucket")

    @t
    def _(r):
        a, b, c = r.randint(3, 8), r.randint(3, 7), r.choice([12, 15, 18, 22, 25, 30])
        room, cover = r.choice(["bedroom", "living room", "classroom", "hallway", "studio"]), r.choice(
            ["Carpet", "Wooden flooring", "Vinyl flooring"])
        return (f"A {room} is {a} m long and {b} m wide. {cover} costs {_money(c)} per square metre. "
                f"How much does it cost to cover the whole floor?")

    @t
    def _(r):
        a, b = r.randint(6, 30), r.randint(4, 20)
        place = r.choice(["vegetable garden", "sheep paddock", "playground", "tennis court", "chicken run"])
        return (f"A rectangular {place} is {a} metres long and {b} metres wide. How many metres of fencing are "
                f"needed to go all the way around it, and what is its area?")

    @t
    def _(r):
        n = r.choice(NAMES)
        s = [r.randint(60, 95) for _ in range(4)]
        goal = r.choice([80, 82, 85, 88])
        what = r.choice(["tests", "quizzes", "diving rounds", "essays"])
        return (f"{n} scored {s[0]}, {s[1]}, {s[2]} and {s[3]} on four {what}. What score does {n} need on the "
                f"fifth to have an average of {goal}?")

    @t
    def _(r):
        h, m, d = r.randint(1, 10), r.choice([0, 10, 15, 20, 30, 40, 45, 50]), r.randint(85, 175)
        what = r.choice(["film", "concert", "school play", "football match", "lecture", "train journey"])
        return f"A {what} starts at {h}:{m:02d} pm and lasts {d} minutes. At what time does it end?"

    @t
    def _(r):
        a, b = r.randint(2, 9), r.randint(2, 6)
        n1, n2 = r.sample(NAMES, 2)
        total = (r.randint(8, 20) * 2) + a
        return (f"{n1} is {a} years older than {n2}. In {b} years, their ages will add up to "
                f"{total + 2 * b}. How old is each of them now?")

    @t
    def _(r):
        k = r.randint(10, 90)
        return r.choice([
            f"The sum of three consecutive whole numbers is {3 * k + 3}. What are the numbers? Show your working.",
            f"{r.choice(NAMES)} thinks of three whole numbers in a row that add up to {3 * k + 3}. What are they?",
            f"Three pages in a row of a book have page numbers that add up to {3 * k + 3}. "
            f"What are the page numbers?",
        ])

    @t
    def _(r):
        red, blue, green = r.randint(2, 9), r.randint(2, 9), r.randint(2, 9)
        thing = r.choice(["marbles", "sweets", "beads", "buttons", "socks", "raffle tickets"])
        colour = r.choice(["red", "blue", "green"])
        return (f"A bag holds {red} red, {blue} blue and {green} green {thing}. If you take one without looking, "
                f"what is the probability that it is {colour}?")

    @t
    def _(r):
        k, n = r.randint(3, 11), r.choice(NAMES)
        return r.choice([
            f"What is the probability of rolling a total of {k} with two fair six-sided dice? Explain your reasoning.",
            f"In a board game, {n} needs a total of {k} on two dice to win. What are the chances on one roll?",
            f"{n} rolls two dice. Is a total of {k} more or less likely than a total of 7? Explain.",
        ])

    @t
    def _(r):
        n = r.randint(4, 7)
        who, verb = r.choice([("friends", "stand in a line for a photo"), ("runners", "finish a race with no ties"),
                              ("students", "sit in a row of chairs"), ("books", "be arranged on a shelf"),
                              ("paintings", "be hung in a row"), ("songs", "be ordered on a playlist")])
        return f"In how many different ways can {n} {who} {verb}?"

    @t
    def _(r):
        n, k = r.randint(6, 12), r.randint(2, 4)
        return r.choice([
            f"A coach has {n} players and needs to choose a team of {k}. How many different teams are possible?",
            f"A pizza place offers {n} toppings. How many different pizzas with exactly {k} toppings can you order?",
            f"A club of {n} members needs a committee of {k}. In how many ways can it be chosen?",
        ])

    @t
    def _(r):
        n1, n2 = r.sample(NAMES, 2)
        a, b = r.choice([(1, 4), (1, 3), (2, 8), (3, 8), (1, 6)])
        c, d = r.choice([(1, 3), (1, 4), (1, 8), (2, 6), (1, 6)])
        food = r.choice(["pizza", "cake", "pie", "lasagne", "chocolate bar"])
        return f"{n1} ate {a}/{b} of a {food} and {n2} ate {c}/{d} of it. What fraction of the {food} is left?"

    @t
    def _(r):
        a, b = r.choice([(12, 18), (10, 15), (8, 12), (15, 20), (6, 9), (20, 30), (14, 21)])
        return r.choice([
            f"Two {r.choice(['buses', 'trains', 'ferries', 'trams'])} leave the same stop at 8:00 am. One leaves "
            f"every {a} minutes and the other every {b} minutes. When do they next leave at the same time?",
            f"One lighthouse flashes every {a} seconds and another every {b} seconds. They flash together now. "
            f"When will they next flash together?",
            f"{r.choice(NAMES)} waters the tomatoes every {a} days and the roses every {b} days, and did both "
            f"today. In how many days will both be watered on the same day again?",
        ])

    @t
    def _(r):
        g = r.randint(3, 9)
        a, b = g * r.randint(3, 8), g * r.randint(3, 8)
        while a == b:
            b += g
        n = r.choice(NAMES)
        return r.choice([
            f"{n} has {a} red beads and {b} blue beads and wants to make identical bracelets that use all of "
            f"them. What is the largest number of bracelets {n} can make?",
            f"A teacher has {a} pencils and {b} erasers to share into identical packs with nothing left over. "
            f"What is the greatest number of packs, and what goes in each?",
        ])

    @t
    def _(r):
        a, b, hrs = r.randint(12, 25), r.randint(12, 25), r.randint(2, 4)
        who = r.choice(["cyclists", "walkers", "rowers", "horse riders"])
        return (f"Two {who} start {(a + b) * hrs} km apart and travel towards each other at {a} km/h and "
                f"{b} km/h. After how long do they meet?")

    @t
    def _(r):
        a, b = r.choice([(375, 750), (500, 1000), (250, 400), (300, 450)])
        p1 = r.randint(20, 45) / 10
        p2 = round(p1 * b / a * r.choice([0.85, 0.9, 0.95, 1.05]), 1)
        item = r.choice(["cereal", "coffee beans", "pasta", "washing powder", "dog food"])
        return (f"A {a}-gram box of {item} costs {_money(p1)} and a {b}-gram box costs {_money(p2)}. "
                f"Which is the better deal per gram?")

    @t
    def _(r):
        x, a = r.randint(-9, 12), r.randint(2, 9)
        b = r.randint(-20, 20)
        eq = f"{a}x {'+' if b >= 0 else '-'} {abs(b)} = {a * x + b}"
        return r.choice([f"Solve for x: {eq}. Show each step.", f"Find the value of x if {eq}, and check it.",
                         f"{r.choice(NAMES)} says x = {x + 1} solves {eq}. Is that right? Find the correct x."])

    @t
    def _(r):
        x, y = r.randint(1, 20), r.randint(1, 20)
        a, b = r.randint(1, 4), r.randint(1, 4)
        return r.choice([
            f"Solve the system of equations: x + y = {x + y} and {a if a > 1 else ''}x - {b if b > 1 else ''}y = "
            f"{a * x - b * y}.",
            f"Adult tickets cost {_money(a + 4)} and child tickets {_money(b + 1)}. {x + y} tickets were sold "
            f"for {_money((a + 4) * x + (b + 1) * y)}. How many of each were sold?",
        ])

    @t
    def _(r):
        p, q = r.randint(1, 9), r.randint(1, 9)
        return r.choice([f"Find the roots of x^2 - {p + q}x + {p * q} = 0 and check your answer.",
                         f"Factorise x^2 - {p + q}x + {p * q} and use it to solve x^2 - {p + q}x + {p * q} = 0.",
                         f"A rectangle has an area of {p * q} square metres and a perimeter of {2 * (p + q)} "
                         f"metres. What are its sides?"])

    @t
    def _(r):
        what, lo, hi, unit = r.choice([("circular pond", 2, 15, "metres"), ("round table", 40, 90, "centimetres"),
                                       ("circular flower bed", 1, 4, "metres"), ("round rug", 60, 150, "centimetres"),
                                       ("circular running track", 30, 60, "metres")])
        return (f"A {what} has a radius of {r.randint(lo, hi)} {unit}. What are its area and circumference, to one "
                f"decimal place?")

    @t
    def _(r):
        a, b, c = r.randint(4, 12) * 5, r.randint(4, 8) * 5, r.randint(4, 10) * 5
        what = r.choice(["fish tank", "planter box", "storage crate", "water trough"])
        return (f"A {what} is {a} cm long, {b} cm wide and {c} cm tall. "
                f"How many litres does it hold when full?")

    @t
    def _(r):
        rad, h = r.randint(2, 8), r.randint(5, 20)
        what = r.choice(["tin can", "candle", "drinking glass", "rain barrel (in decimetres)"])
        return f"A cylindrical {what} has a radius of {rad} and a height of {h}. What is its volume?".replace(
            "(in decimetres) has a radius of", "has a radius in decimetres of") if "barrel" in what else (
            f"A cylindrical {what} has a radius of {rad} cm and a height of {h} cm. What is its volume?")

    @t
    def _(r):
        a, b, c = r.choice([(3, 4, 5), (6, 8, 10), (5, 12, 13), (9, 12, 15), (8, 15, 17)])
        return r.choice([
            f"A {c}-metre ladder leans against a wall with its foot {a} metres from the wall. "
            f"How high up the wall does it reach?",
            f"A rectangular park is {a * 10} m by {b * 10} m. How long is the path that cuts straight across it "
            f"from corner to corner?",
            f"A kite on a {c * 5}-metre string is directly above a point {a * 5} metres from where the string is "
            f"held. How high is the kite?",
        ])

    @t
    def _(r):
        n, w, h, o = r.choice(NAMES), r.randint(12, 30), r.choice([30, 35, 37, 40]), r.randint(2, 8)
        return (f"{n} earns {_money(w)} an hour for the first {h} hours of the week and time and a half for "
                f"overtime. How much does {n} earn in a week with {h + o} hours of work?")

    @t
    def _(r):
        n, k = r.choice(NAMES), r.randint(2, 6)
        total, travel, night = r.randint(8, 20) * 100, r.randint(10, 40) * 10, r.randint(6, 15) * 10
        return (f"{n} has {_money(total)} for a holiday. Travel costs {_money(travel)} and the hotel is "
                f"{_money(night)} a night for {k} nights. How much is left to spend on food and activities?")

    @t
    def _(r):
        a, d, n = r.randint(1, 20), r.randint(2, 9), r.randint(12, 40)
        return r.choice([
            f"What is the {n}th term of the arithmetic sequence {a}, {a + d}, {a + 2 * d}, {a + 3 * d}, ...?",
            f"The first row of a theatre has {a + 10} seats and each row has {d} more than the one in front. "
            f"How many seats are in row {n}?",
            f"{r.choice(NAMES)} has {_money(a)} in a jar and adds {_money(d)} every week. How much is in the jar "
            f"after {n} weeks?",
        ])

    @t
    def _(r):
        a, q = r.randint(1, 5), r.choice([2, 3])
        seq = [a * q**i for i in range(4)]
        return r.choice([
            f"What comes next in the sequence {', '.join(map(str, seq))}, ...? Describe the pattern.",
            f"A colony of {a * 100} bacteria {'doubles' if q == 2 else 'triples'} every hour. How many bacteria "
            f"are there after {r.randint(3, 6)} hours?",
        ])

    @t
    def _(r):
        c = r.choice([-10, -5, 0, 12, 18, 25, 30, 37, 40])
        return r.choice([
            f"Convert {c} degrees Celsius to Fahrenheit and show the steps.",
            f"The forecast for {r.choice(CITIES)} says {c} degrees Celsius. What is that in Fahrenheit?",
            f"A recipe says to bake at {r.choice([325, 350, 375, 400, 425])} degrees Fahrenheit. What is that "
            f"in Celsius, roughly?",
        ])

    @t
    def _(r):
        use, dist, price = r.randint(4, 9), r.randint(12, 80) * 10, r.randint(14, 22) / 10
        return (f"A car uses {use} litres of fuel per 100 km. How much fuel does a {dist} km trip need, and what "
                f"does it cost at {_money(price)} per litre?")

    @t
    def _(r):
        s, a, b = r.choice([20, 25, 30, 40, 50]), r.randint(2, 6), r.randint(2, 5)
        where = r.choice(["a kitchen floor", "a patio", "a bathroom wall", "a hallway floor"])
        return f"How many square tiles {s} cm on each side are needed to cover {where} {a} m by {b} m?"

    @t
    def _(r):
        n, b = r.choice(NAMES), r.randint(4, 12)
        a = b * r.randint(5, 15) + r.randint(1, b - 1)
        item = r.choice(COUNTABLES)
        return (f"{n} has {a} {item} to pack into bags of {b}. How many full bags can {n} make, "
                f"and how many {item} are left over?")

    @t
    def _(r):
        d = r.choice([10, 20, 25, 30, 40])
        orig = r.randint(4, 40) * 10
        p = r.choice(PRODUCTS)
        return f"After a {d}% discount, a {p} costs {_money(orig * (100 - d) / 100)}. What was the original price?"

    @t
    def _(r):
        n, p, y = r.randint(20, 90) * 1000, r.choice([2, 3, 4, 5]), r.randint(2, 6)
        what = r.choice([("town", "people live there"), ("nature reserve's deer herd", "deer are there"),
                         ("website's user base", "users does it have")])
        return (f"A {what[0]} of {n:,} grows by {p}% every year. About how many {what[1]} after {y} years?"
                .replace("A town of", "A town with a population of").replace("how many people live there",
                                                                                 "how many people will live there")
                .replace("how many deer are there", "how many deer will there be")
                .replace("how many users does it have", "how many users will it have"))

    @t
    def _(r):
        h, m = r.randint(1, 12), r.choice([0, 15, 20, 30, 40, 45])
        return r.choice([f"What is the angle between the hour hand and the minute hand of a clock at {h}:{m:02d}?",
                         f"At {h}:{m:02d}, how many degrees apart are the two hands of a clock?"])

    @t
    def _(r):
        day, n = r.choice(WEEKDAYS), r.randint(10, 400)
        return r.choice([f"If today is {day}, what day of the week will it be in {n} days?",
                         f"{r.choice(NAMES)}'s birthday is in {n} days and today is {day}. On what day of the "
                         f"week is the birthday?"])

    @t
    def _(r):
        a, b = r.randint(11, 99), r.randint(11, 99)
        return r.choice([
            f"Estimate {a} x {b} by rounding both numbers to the nearest ten, then work out the exact answer.",
            f"A school orders {a} boxes of {b} pencils. Estimate the number of pencils first, then work it out "
            f"exactly.",
            f"A cinema has {a} rows of {b} seats. Roughly how many seats is that, and exactly how many?",
        ])

    @t
    def _(r):
        xs = [r.randint(1, 30) for _ in range(r.randint(6, 9))]
        xs.append(r.choice(xs))
        r.shuffle(xs)
        what = r.choice(["these numbers", "the goals a team scored in its matches",
                         "the number of books each student read this term", "the minutes a bus was late each day"])
        return f"Find the mean, median and mode of {what}: {', '.join(map(str, xs))}."

    @t
    def _(r):
        temps = [r.randint(-3, 31) for _ in range(7)]
        town = r.choice(["a mountain village", "a seaside town", "a desert city", "the capital"])
        return (f"The daily high temperatures in {town} this week were {', '.join(map(str, temps))} degrees "
                f"Celsius. What was the range, and what was the average?")

    @t
    def _(r):
        rate, x = r.choice([1.08, 1.1, 1.12, 0.92, 1.25]), r.randint(5, 60) * 10
        cur = r.choice([("euro", "dollars"), ("pound", "dollars"), ("dollar", "yuan")])
        return f"If 1 {cur[0]} buys {rate} {cur[1]}, how many {cur[0]}s do you get for {x} {cur[1]}?"

    @t
    def _(r):
        w, k = r.randint(3, 20), r.randint(2, 10)
        what = r.choice(["rectangle", "rectangular photo frame", "rectangular garden bed", "rectangular pool"])
        return (f"A {what} has a perimeter of {2 * (2 * w + k)} units and its length is {k} units more than its "
                f"width. What are its length and width?")

    @t
    def _(r):
        a, b = r.randint(20, 90), r.randint(20, 70)
        return r.choice([f"Two angles of a triangle measure {a} and {b} degrees. What is the third angle?",
                         f"A triangular sail has two angles of {a} and {b} degrees. What is the third angle, and "
                         f"is the triangle acute, right or obtuse?"])

    @t
    def _(r):
        n, a, mins, b = r.choice(NAMES), r.choice([4, 5, 6]), r.choice([24, 30, 36, 45]), r.choice([12, 15, 18])
        return (f"{n} walks to school at {a} km/h and the walk takes {mins} minutes. "
                f"How long would the same trip take by bike at {b} km/h?")

    @t
    def _(r):
        n, pages, per, days = r.choice(NAMES), r.randint(18, 60) * 10, r.randint(12, 40), r.randint(3, 9)
        return (f"{n} is reading a {pages}-page book and reads {per} pages a day. How many pages are left after "
                f"{days} days, and how many more days will it take to finish?")

    @t
    def _(r):
        n, s, c = r.choice(NAMES), r.randint(5, 30), r.randint(12, 90) * 10
        p = r.choice(PRODUCTS)
        return f"{n} saves {_money(s)} a week for a {p} that costs {_money(c)}. How many weeks will it take?"

    @t
    def _(r):
        k, bill, tip = r.randint(3, 8), r.randint(60, 300), r.choice([10, 12, 15, 18, 20])
        return (f"{_NUMBER_WORDS[k].capitalize()} friends share a restaurant bill of {_money(bill)} and add a "
                f"{tip}% tip. How much does each person pay if they split it evenly?")

    @t
    def _(r):
        a, b = r.randint(2, 12), r.randint(2, 5)
        return r.choice([f"What is {a} to the power of {b}, and how can you work it out without a calculator?",
                         f"How many different {b}-symbol codes can you make from {a} symbols if symbols can repeat?",
                         f"Work out {a}^{b} step by step."])

    @t
    def _(r):
        n = r.choice([x for x in range(20, 400) if int(x**0.5) ** 2 != x])
        return r.choice([f"Between which two whole numbers does the square root of {n} lie? Explain how you know.",
                         f"A square garden has an area of {n} square metres. Roughly how long is each side?",
                         f"Estimate the square root of {n} to one decimal place without a calculator."])

    @t
    def _(r):
        b, d = r.choice([3, 4, 6, 8]), r.choice([5, 6, 9, 10, 12])
        a, c = r.randint(1, b - 1), r.randint(1, d - 1)
        return r.choice([
            f"Add {c}/{d} to {a}/{b} and simplify the result.",
            f"{r.choice(NAMES)} walked {a}/{b} of a kilometre before lunch and {c}/{d} of a kilometre after. "
            f"How far is that altogether?",
            f"A jug holds {a}/{b} of a litre of juice and {c}/{d} of a litre is poured out. How much is left?",
        ])

    @t
    def _(r):
        x = r.choice([0.125, 0.2, 0.35, 0.45, 0.6, 0.75, 0.875, 0.04, 0.36, 0.55])
        return r.choice([f"Write {x} as a fraction in lowest terms and as a percentage.",
                         f"In a survey, a share of {x} of the people asked said they cycle to work. Write this "
                         f"as a fraction and as a percentage."])

    @t
    def _(r):
        n, laps, lap = r.choice(NAMES), r.randint(4, 20), r.choice([200, 250, 400])
        mins = r.randint(8, 40)
        return (f"{n} runs {laps} laps of a {lap}-metre track in {mins} minutes. What is the average speed in "
                f"kilometres per hour?")

    @t
    def _(r):
        w, l_ = r.randint(2, 6), r.randint(3, 9)
        paint = r.choice([8, 10, 12])
        what = r.choice(["wall", "bedroom wall", "garage wall", "classroom wall"])
        return (f"A {what} is {w} m high and {l_} m long. One litre of paint covers {paint} square metres. "
                f"How many litres are needed for two coats?")

    @t
    def _(r):
        total, pct = r.randint(20, 40) * 10, r.choice([15, 20, 35, 40, 45, 60])
        group, pref = r.choice([("students at a school", "walk to school"), ("members of a club", "prefer tea"),
                                ("people at a festival", "came by train"), ("runners in a race", "wore red")])
        return f"Of the {total} {group}, {pct}% {pref}. How many is that, and how many did not?"

    return T


MATH_CONCEPTS = _lines("""
Explain how to find the least common multiple of two numbers, with an example.
What is the difference between the mean and the median? When is each more useful?
Why can't you divide by zero?
How do you convert a fraction to a percentage?
What is a logarithm, in simple terms?
What is the difference between a permutation and a combination?
How do you calculate the area of a triangle, and why does the formula work?
What does it mean for two lines to be perpendicular?
How do negative numbers work when you multiply them?
What is a ratio, and how is it different from a fraction?
Explain what a variable is in algebra to someone who hates maths.
How can I check whether a number is divisible by 3 or by 9 quickly?
What is standard deviation, and what does it tell us?
How do you find the slope of a line through two points?
What is the order of operations, and why does it matter?
What is pi, and why does it show up in so many formulas?
What is the difference between an equation and an expression?
How do you simplify a fraction?
How do you work out a percentage change?
What is a function in mathematics?
What is an irrational number? Give some examples.
How does long division work?
What is the difference between area and perimeter?
How do you read a box plot?
What is a prime factorization and how do you find one?
How do you solve a problem using a table of values?
What is a vector, and how is it different from a number?
How do you round a number to a given number of significant figures?
What are the rules for working with exponents?
What is the binomial theorem used for?
How do you find the volume of a pyramid?
What is the difference between simple and compound probability?
How can I get better at mental arithmetic?
What is modular arithmetic, and where is it used in everyday life?
How do you calculate a tip in your head?
What is the difference between a square and a rhombus?
How do you find the area of a trapezium?
What is the difference between a prime number and a composite number?
What are Roman numerals and how do they work?
How does counting in binary work?
What are the properties of a parallelogram?
How do you calculate the volume of a sphere?
What is a histogram, and when should you use one?
What is the difference between discrete and continuous data?
What does expected value mean in probability?
What is a matrix, and what is it used for?
What are complex numbers, in simple terms?
How do you solve a quadratic equation by completing the square?
Where does the quadratic formula come from?
What is a proof by contradiction? Give a simple example.
How do you work out the angles inside a regular polygon?
What is the difference between a sample and a population in statistics?
Why is 1 not a prime number?
What are sine, cosine and tangent, in simple terms?
How many edges, faces and vertices does a cube have, and is there a pattern?
How do you divide one fraction by another?
Why is the area of a circle pi times the radius squared?
What is scientific notation, and why is it useful?
How are speed, distance and time related?
What is a tessellation?
What is the Monty Hall problem, and why does it confuse people?
Why is any number to the power of zero equal to one?
What is a percentage point, and how is it different from a percent?
How do you calculate the mean of grouped data?
What is an inequality, and how do you solve one?
What is the difference between a line graph and a bar chart?
How do you convert between units of area, like square metres and square centimetres?
What is a geometric sequence?
How do maps use scale, and how do you calculate real distances from one?
""")


def _math_problems(rng: random.Random) -> list[list[str]]:
    groups = []
    for f in _math_templates():
        seen, cands = set(), []
        for _ in range(60):
            p = f(rng)
            if p not in seen:
                seen.add(p)
                cands.append(p)
        groups.append(cands)
    return groups


def _math_concepts(rng: random.Random) -> list[list[str]]:
    return [[q] for q in MATH_CONCEPTS]


# ---- list -----------------------------------------------------------------------------------------------------

LIST_SUBJECTS = _lines("""
fruits that are high in fibre
birds you might see in a city park
famous bridges around the world
ways to cut down on food waste
questions to ask before buying a used car
houseplants that are hard to kill
board games for two players
classic films from the 1950s
the tallest mountains in the world
the longest rivers in Africa
national parks in the United States
ancient wonders of the world
inventions that changed medicine
kitchen tools every beginner cook needs
spices used in Indian cooking
Japanese dishes worth trying
street foods from Mexico
cheeses from France
herbs you can grow on a windowsill
flowers that attract butterflies
trees with bright autumn colours
animals that hibernate
nocturnal animals
animals native to Australia
endangered species in Asia
dog breeds that suit small apartments
low-maintenance pets for busy people
signs that a car needs new brakes
things to check before a long drive
items for a home first-aid kit
things to keep in an emergency kit
essentials for a weekend camping trip
things to pack for a business trip
carry-on essentials for a long flight
ways to keep a home cool without air conditioning
ways to save energy at home
ways to use less water at home
habits that improve focus
questions to ask at the end of a job interview
skills employers look for in graduates
jobs that involve working outdoors
careers in healthcare that don't require medical school
ways to network as an introvert
ways to stay focused while working from home
office etiquette rules
common mistakes on a CV
email etiquette rules for work
programming concepts every beginner should learn
data structures every programmer should know
keyboard shortcuts that save time
common cybersecurity mistakes
ways to protect your privacy online
signs of a phishing email
uses for an old smartphone
famous paintings and where to see them
famous composers of classical music
famous poets from different countries
children's books that adults enjoy too
poetry forms
musical genres from Latin America
instruments in a symphony orchestra
dance styles from around the world
famous speeches in history
ancient civilizations
medieval inventions
causes of the First World War
Olympic sports that rarely get TV coverage
sports you can play alone
team sports for young children
stretches for runners
gentle exercises for older adults
healthy snacks to keep at work
high-protein vegetarian foods
foods rich in iron
breakfast ideas without eggs
easy dinners for busy weeknights
desserts that need no oven
soups for cold days
ways to use leftover rice
things to make with overripe bananas
ways to make vegetables tastier
common baking mistakes
tips for hosting a dinner party
games to play at a family reunion
icebreaker questions for a new team
conversation starters for a party
things to do in Tokyo
day trips from London
sights to see in Rome
festivals around the world
New Year traditions from different countries
ways to celebrate a birthday on a tight budget
gift ideas for new parents
gifts that cost less than 20 dollars
ways to show appreciation to a coworker
ways to be a good neighbour
volunteer activities for teenagers
ways to support a friend who is grieving
signs of burnout
ways to unwind before bed
ways to build a daily reading habit
science books for curious kids
nature documentaries worth watching
card games for families
outdoor games for kids
chores kids can help with
ways to teach children about money
study techniques that really work
memory techniques for remembering names
languages spoken in India
facts about the Moon
constellations you can see in winter
famous astronomers
space missions that changed science
elements of the periodic table we use every day
everyday uses of chemistry
simple machines and where we use them
renewable energy sources
ways to reduce your carbon footprint
materials that can be recycled
things you should never put in a microwave
things that should never go down a drain
cleaning tasks to do every week
cleaning uses for vinegar
ways to organize a small wardrobe
tools every home should have
car maintenance tasks to do every month
bike maintenance jobs you can do yourself
ways to make a long commute more pleasant
features to look for in running shoes
questions to ask a landlord before renting
documents to bring when opening a bank account
ways to lower a monthly phone bill
ways to avoid impulse buying
common money mistakes people make in their twenties
ways to start saving for retirement
side jobs for students
non-alcoholic drinks for a party
teas from around the world
ways to brew coffee at home
kinds of clouds
kinds of rocks and how they form
kinds of bridges
kinds of pasta and the sauces they suit
kinds of fabric and what they are used for
useful knots and what they are for
birds of prey
deep-sea creatures
insects that help gardens
edible wild plants
foods that are toxic to dogs
signs that a dog is happy
ways to keep an indoor cat entertained
things to know before getting a rabbit
common English idioms and their meanings
English words borrowed from other languages
commonly confused English words
punctuation rules people often get wrong
persuasive writing techniques
elements of a good short story
Greek gods and goddesses
Norse myths
folk tales from Africa
famous castles in Europe
World Heritage sites in Asia
islands worth visiting in the Mediterranean
deserts of the world
great lakes of Africa
capital cities in Europe
countries that border Germany
the largest cities in Canada
jobs to finish before going on holiday
questions to ask a mentor
qualities of a good manager
ways to run shorter meetings
ways to give constructive feedback
signs that it is time to change careers
skills for a career in data analysis
podcast ideas about local history
ideas for a school science fair project
things to do in the first week at a new job
ways to make a small garden look bigger
vegetables that grow well in shade
plants that keep mosquitoes away
things to do with kids during school holidays
ways to spend less time on your phone
ways to make friends as an adult
questions to ask your grandparents
ways to reduce noise in an apartment
fun facts about the human body
famous inventors and their inventions
famous female scientists
famous explorers
common symptoms of a cold
ways to prevent back pain at a desk
benefits of walking every day
foods that help you feel full
pantry staples every kitchen should have
ways to make a small kitchen more efficient
ingredients for a good salad
things to consider when choosing a school
questions to ask at a parent-teacher meeting
classic toys that are still popular
ways to keep a journal
hobbies that earn a little money
reasons to visit a library
ways to welcome a new neighbour
packing tips for a family holiday
things to check before booking a holiday rental
ways to stay safe in a thunderstorm
signs of spring in the countryside
wildflowers of Europe
animals that live in the Arctic
animals that use tools
famous horses in history
the biggest animals that ever lived
mammals that live in the sea
reptiles that make good pets
ways animals communicate
fruits that grow in tropical countries
root vegetables
grains eaten around the world
traditional breakfasts from different countries
famous chefs and their signature dishes
ways to save money on a wedding
ideas for a rainy-day picnic indoors
things to bring to a potluck
ways to make a long car journey fun
famous landmarks in South America
the busiest airports in the world
the oldest universities in the world
famous libraries
famous shipwrecks
inventions from ancient China
milestones in the history of flight
words that are hard to translate
board games that teach strategy
video games that are good for families
sports with unusual rules
ways to cool down after exercise
warm-up exercises before a run
yoga poses for beginners
ways to look after your eyes
ways to keep your brain sharp as you age
things to do before a job interview
ways to prepare for a power cut
""")

LIST_FORMS = _lines("""
Give me {n} {s}.
Name {n} {s} and say one sentence about each.
Make a bulleted list of {s}.
What are some {s}?
List {n} {s}.
Can you suggest {n} {s}?
I need a quick list of {s}. Keep each item short.
Write a numbered list of {n} {s}, with a short reason for each.
Brainstorm {n} {s}.
Give me a short list of {s}, best first.
""")

LIST_NUMBERS = ["three", "four", "five", "six", "seven", "eight", "ten"]


def _lists(rng: random.Random) -> list[list[str]]:
    return [[f.format(n=rng.choice(LIST_NUMBERS), s=s) for f in _shuffled(rng, LIST_FORMS)] for s in LIST_SUBJECTS]


# ---- prose ----------------------------------------------------------------------------------------------------

PROSE_PREMISES = _lines("""
a robot who wants to become a gardener
a grandmother who secretly runs a detective agency
a mailbox that delivers letters to the past
a shy dragon who opens a bakery
a city where nobody is allowed to sing
a boy who finds a map under his floorboards
a girl who trades her shadow for a wish
an old tortoise who has never left its pond
two rival ice-cream vans
a scientist who shrinks herself by accident
a cloud that is afraid of heights
a ghost who is afraid of people
a train that only runs at midnight
a talking tree in a schoolyard
a knight who would rather knit
an astronaut who lands on a planet of cats
a village that wakes up with no colours
a clockmaker who can pause time
a fox and a crow who start a newspaper
a family of mice living in a theatre
a detective pigeon
a violin that plays by itself
an island that appears once every hundred years
a mountain that wants to be a beach
a snail who enters a race
a young chef competing against her grandmother
a spaceship crew that picks up an old radio message
a robot babysitter on its first day
a beekeeper who can hear the bees talking
a lonely satellite
a bicycle that remembers every journey
a moon that forgets to rise
a tailor who sews dreams
a kid inventor whose invention goes wrong
a museum statue that comes alive at night
an elephant who paints
a postman on a floating island
a lost umbrella looking for its owner
a toy soldier who wants to be a dancer
a whale who collects songs
a town where snow falls upwards
a cook on a pirate ship
a girl who can hear plants
a dog who runs a bookshop
a mermaid who wants to climb mountains
a deep-sea diver who finds a door on the ocean floor
a street musician with a magic guitar
a farmer growing a giant pumpkin for a contest
a grandfather teaching his granddaughter to sail
a homesick alien exchange student
a night guard at a dinosaur museum
a shoemaker and a clever cat
a kite that doesn't want to come down
a goat who becomes a mountain guide
a young queen who hates crowns
a detective who solves crimes by smell
a library book that never gets borrowed
a baker whose bread makes people tell the truth
a winter where spring never comes
two strangers stuck in a lift
a family road trip that goes hilariously wrong
a retired superhero
a carousel horse that escapes
a boy who befriends a storm
a hedgehog who is afraid of balloons
a lighthouse keeper and a seagull who become friends
a talking refrigerator
a girl who collects lost sounds
a tiny village on the back of a giant turtle
a chef who can taste memories
a painter whose painted doors really open
a squirrel planning the perfect acorn heist
a grumpy giant who learns to laugh
a secret garden on a city rooftop
a teacher on her last day before retirement
an old man who plants a forest
a team of kids building a raft
a cat who thinks it is a dog
a comet that wants to stop travelling
a quiet boy who wins a talent show
a sandcastle that survives the tide
a dragon egg found in a supermarket
a forgotten toy in an attic
a ship in a bottle that sails at night
a scarecrow who befriends the crows
a princess who becomes a blacksmith
a caretaker at a school for wizards
a zookeeper whose animals swap enclosures
a time capsule opened fifty years early
a robot learning to tell jokes
a frog who wants to fly
a musician who hears colours
a city where every pet can talk
an old map that changes every night
a fisherman who catches a falling star
a mole who has never seen the sun
a lantern festival in a mountain village
a bus driver on the last route of the night
a chess game between two old rivals in a park
a penguin who moves to the desert
a boy who can understand his grandmother's cat
an orchestra of animals preparing for a concert
a haunted vending machine
a hot-air balloon race around the world
a lighthouse that sends messages to another planet
a girl who builds a rocket in her garage
a knight whose armour is too big
the last leaf on a tree in winter
a small robot cleaning up a beach
two siblings who swap lives for a day
a bakery that opens only at midnight
a shy owl who wants to sing in a choir
""")

PROSE_STORY_FORMS = _lines("""
Write a short story about {p}.
Tell me a bedtime story about {p}.
Write a poem about {p}.
Write the opening paragraph of a novel about {p}.
Write a fable about {p} that ends with a moral.
Write a 100-word piece of flash fiction about {p}.
Write a short scene of dialogue about {p}.
Write a diary entry from the point of view of {p}.
Write a funny limerick about {p}.
Write a children's picture-book text about {p}, one sentence per page.
""")

PROSE_THEMES = _lines("""
autumn leaves
the first snow of the year
the sea at night
city lights
a grandmother's hands
morning coffee
the last day of summer
moving house
homesickness
a rainy Monday
the stars
a cat asleep in the sun
riding a bicycle
a lost glove
an old photograph
learning to swim
the first day of school
silence
hope
the passing of time
a garden in spring
the moon
mountains in winter
trains at night
a summer thunderstorm
kindness
growing older
a favourite book
a broken clock
the wind
puddles
a dog waiting at the door
the end of a long week
fireflies
a river
a forest path
an empty playground
winter mornings
the sound of rain on a roof
a kite
a new baby
footprints in the sand
the colour blue
a cup of tea
birdsong at dawn
a handwritten letter
an old map
a house key
shadows
the harvest moon
a birthday candle
a field of sunflowers
the smell of bread
a busy kitchen
an old bicycle
a snowy owl
the last bus home
a hospital night shift
a city park in spring
a lighthouse beam
""")

PROSE_THEME_FORMS = _lines("""
Write a poem about {t}.
Write a haiku about {t}.
Write a limerick about {t}.
Write a short free-verse poem about {t}.
Write a four-line rhyming poem about {t}.
Write a sonnet about {t}.
Write an acrostic poem about {t}.
""")

PROSE_SCENES = _lines("""
a quiet beach at dawn
a crowded train station at rush hour
a thunderstorm rolling over a farm
a snowy village at night
an old second-hand bookshop
a kitchen on a holiday morning
a city rooftop at night
a desert at noon
a night market
a football stadium just before kick-off
a hospital waiting room
a mountain lake in autumn
a school corridor after the last bell
an abandoned amusement park
a lighthouse in a storm
a bakery at five in the morning
a fishing harbour at sunrise
a busy airport departure hall
a playground on the first warm day of spring
a quiet library reading room
a campfire in the woods
a rainy cafe window
a frozen lake
a subway carriage late at night
a grandmother's attic
a wedding reception
a street parade
a museum of old clocks
a greenhouse in winter
an empty concert hall
a cave lit by torches
a vineyard at harvest time
a snowy forest at dawn
a bustling spice market
a tiny apartment kitchen
a windy cliff above the sea
a farmers' market on a Saturday
a school science fair
a hot afternoon in a small town
the inside of a submarine
the view of Earth from a space station
a bus stop in the rain
a cabin during a blizzard
an overgrown garden
the finish line of a marathon
a classroom during an exam
fireworks over a harbour
a moonlit meadow
a village square on market day
a train crossing a snowy mountain pass
""")

PROSE_SCENE_FORMS = _lines("""
Describe {s}.
Write a vivid paragraph describing {s}.
Describe {s} using all five senses.
Write a short descriptive passage about {s}.
Describe {s} from the point of view of a child.
""")

PROSE_PRACTICAL = _lines("""
an email to a landlord asking for a leaking tap to be fixed
a polite message to a neighbour about loud music late at night
a short note thanking a colleague for covering my shift
an out-of-office reply for a two-week holiday
a cover letter for a junior graphic designer job
a short bio for a local bakery's website
a message inviting neighbours to a street clean-up
an email asking a professor for a recommendation letter
a resignation letter that keeps a good relationship with the employer
a friendly reminder about an unpaid invoice
a welcome message for new members of a hiking club
a text cancelling dinner plans with a friend politely
a school absence note for a child with a cold
a complaint letter about a delayed train refund
a thank-you email after a job interview
an announcement that the office will close early on Friday
an email introducing two colleagues who should meet
a note for a house sitter explaining the household routines
a letter to myself to open in ten years
a customer service reply to someone whose order arrived damaged
a message to a group chat organizing a Secret Santa
an email asking my manager for feedback on a project
instructions for feeding a neighbour's cat while they are away
a friendly note to roommates about the cleaning rota
a short fundraising appeal for a school library
an email to a hotel asking for a late check-out
a message congratulating a colleague on a promotion
a condolence note to a coworker who lost a parent
a short speaker bio for a scientist who studies bees
a job advert for a part-time barista
a letter to the local council asking for a new bike lane
an introduction for a neighbourhood association newsletter
a flyer offering pet-sitting services
an email to parents about a class trip to a science museum
a short FAQ for a small online plant shop
an apology to a customer for a billing mistake
a polite email declining a wedding invitation
a message asking a friend to return a borrowed book
a note to a teacher explaining why homework is late
a safety briefing for volunteers at a charity run
a welcome email for a new employee's first day
an email to a supplier asking for a price quote
a request to return shoes that don't fit
a guide for holiday-rental guests on using the heating and wifi
a message asking happy customers to leave a review
a notice to a landlord that I am moving out
a first letter to a pen pal in another country
an announcement for a children's story hour at a library
a reference for a former babysitter
a proposal to my manager to try a four-day week
a letter to a newspaper about a closing swimming pool
a short message to a teacher thanking them at the end of the year
a reply to a recruiter, saying I'm not interested for now
an invitation to a small dinner party
a lost-cat poster
a sign for a shared office fridge asking people to label their food
a product update email telling customers about a new feature
a reminder to a sports team about training times
an email asking a neighbour to sign a petition for a crossing
a short speech to thank volunteers at a food bank
a message to a friend recovering from surgery
a note to a new neighbour introducing myself
a short description of my role for the company website
an email asking for a deadline extension
a polite follow-up after no reply to a job application
a message to parents about nut allergies in the classroom
a short pitch for a community garden grant
a wedding RSVP with a note about dietary needs
a note inviting colleagues to a leaving lunch
a short weekly update to my team about a project
""")

PROSE_PRACTICAL_FORMS = ["Write {x}.", "Draft {x}.", "Help me write {x}.", "Write {x}. Keep it under 150 words."]

PROSE_PRODUCTS = _lines("""
a solar-powered phone charger
a foldable electric bike
a bamboo toothbrush
a plant pot that waters itself
a sleep mask that blocks out all light
a handmade ceramic mug
a waterproof hiking jacket
a coding robot for kids
a cast-iron skillet
an insulated lunch box
a language-learning app
a weighted blanket
a mechanical keyboard
a portable espresso maker
a reusable beeswax food wrap
a memory-foam travel pillow
a standing desk converter
a board game about exploring space
a herb-growing kit
a pair of cushioned running socks
a rechargeable bike light
a recipe box for busy families
a birdhouse made from recycled wood
a pocket-sized notebook
a smart doorbell
an online pottery course
a non-slip yoga mat
a children's picture book about recycling
an electric kettle with temperature control
a cordless vacuum cleaner
a travel backpack with hidden pockets
a plant-based protein bar
a garden weather station
a family calendar app
a set of glow-in-the-dark stars for a ceiling
a gift card for a second-hand bookshop
a refillable fountain pen
a folding camping chair
a pair of blue-light glasses
a compost bin for small kitchens
""")

PROSE_PRODUCT_FORMS = _lines("""
Write a short product description for {x}.
Write an advertisement for {x}.
Write a catchy slogan and a two-sentence pitch for {x}.
Write a customer review of {x}.
Write a social media post announcing {x}.
""")

PROSE_OCCASIONS = _lines("""
a friend's fortieth birthday
a colleague's retirement
my grandmother's ninetieth birthday
a team winning the local league
the opening of a community garden
the end of a volunteer project
a coworker moving abroad
New Year's Eve dinner with friends
my parents' 25th wedding anniversary
my sister's baby shower
a friend's housewarming
a friend's first book being published
a charity fundraising dinner
a school's hundredth anniversary
the last day of summer camp
an award for a dedicated nurse
a family reunion
a sports club's end-of-season dinner
a best friend's engagement
a neighbour's farewell before moving away
""")

PROSE_OCCASION_FORMS = ["Write a short speech for {o}.", "Write a toast for {o}.", "Write a card message for {o}."]


def _prose_stories(rng: random.Random) -> list[list[str]]:
    return [[f.format(p=p) for f in _shuffled(rng, PROSE_STORY_FORMS)] for p in PROSE_PREMISES]


def _prose_poems(rng: random.Random) -> list[list[str]]:
    return [[f.format(t=t) for f in _shuffled(rng, PROSE_THEME_FORMS)] for t in PROSE_THEMES]


def _prose_scenes(rng: random.Random) -> list[list[str]]:
    return [[f.format(s=s) for f in _shuffled(rng, PROSE_SCENE_FORMS)] for s in PROSE_SCENES]


def _prose_practical(rng: random.Random) -> list[list[str]]:
    groups = [[f.format(x=x) for f in _shuffled(rng, PROSE_PRACTICAL_FORMS)] for x in PROSE_PRACTICAL]
    groups += [[f.format(x=x) for f in _shuffled(rng, PROSE_PRODUCT_FORMS)] for x in PROSE_PRODUCTS]
    groups += [[f.format(o=o) for f in _shuffled(rng, PROSE_OCCASION_FORMS)] for o in PROSE_OCCASIONS]
    return groups


# ---- extraction (training only) -------------------------------------------------------------------------------

SURNAMES = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Mensah", "Rossi", "Novak", "Ibrahim",
            "Fischer", "Alvarez", "Nakamura", "O'Brien", "Petrova", "Chen", "Da Silva", "Byrne", "Sato", "Kaya"]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Krakow", "Valparaiso", "Leeds", "Hanoi", "Adelaide", "Ghent",
          "Tbilisi", "Monterrey", "Bergen", "Accra", "Porto", "Chennai", "Tallinn", "Halifax", "Cork", "Izmir"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ORGS = ["Riverside Library", "the Northgate Rowing Club", "Bluebell Foods", "the city museum", "Harbour Clinic",
        "Greenway Transport", "the Sunflower Theatre Company", "Maple Street School", "Brightpath Software",
        "the regional water board"]
SHOPS = ["Corner Hardware", "Fresh Fields Market", "Page & Quill Books", "The Tea Tin", "Pedal Bike Repairs",
         "Oak Table Cafe"]
GOODS = [("notebook", 3, 9), ("bag of coffee beans", 8, 16), ("light bulb", 2, 6), ("loaf of rye bread", 3, 5),
         ("bicycle pump", 15, 30), ("set of paint brushes", 6, 14), ("pack of batteries", 4, 10),
         ("box of tea", 3, 8), ("pair of gloves", 9, 25), ("watering can", 7, 18), ("phone charger", 10, 25)]
PROJECTS = ["flood defence", "school garden", "library renovation", "bike-sharing", "river clean-up",
            "community radio", "solar roof", "after-school coding"]


def _person(r: random.Random) -> str:
    return f"{r.choice(NAMES)} {r.choice(SURNAMES)}"


def _date(r: random.Random) -> str:
    return _dates(r, 1)[0]


def _dates(r: random.Random, k: int) -> list[str]:
    """k distinct dates in increasing order, within about a year."""
    import datetime

    start = datetime.date(r.randint(2019, 2027), r.randint(1, 12), r.randint(1, 28))
    days = sorted(r.sample(range(0, 330), k))
    return [f"{d.day} {MONTHS[d.month - 1]} {d.year}" for d in (start + datetime.timedelta(n) for n in days)]


def _people(r: random.Random, k: int) -> list[str]:
    return [f"{a} {b}" for a, b in zip(r.sample(NAMES, k), r.sample(SURNAMES, k))]


def _passage_meeting(r):
    a, b, c = _people(r, 3)
    d1, d2 = _dates(r, 2)
    return (f"{a} and {b} met in {r.choice(CITIES)} on {d1} to plan the {r.choice(PROJECTS)} project. "
            f"{c} joined them a week later, and the group agreed to present the plan on {d2}.")


def _passage_order(r):
    g, lo, hi = r.choice(GOODS)
    n = r.randint(2, 6)
    a, b = _people(r, 2)
    d1, d2 = _dates(r, 2)
    return (f"Dear {a}, thank you for your order of {n} x {g} on {d1}. The total came to "
            f"{_money(n * r.randint(lo, hi))}. Your parcel will leave our {r.choice(CITIES)} warehouse by "
            f"{d2}. Kind regards, {b}")


def _passage_news(r):
    a, b = _people(r, 2)
    return (f"On {_date(r)}, {r.choice(ORGS)} in {r.choice(CITIES)} announced that {a} will lead its new "
            f"{r.choice(PROJECTS)} project. Work starts in {r.choice(MONTHS)} with a budget of "
            f"{r.randint(2, 40) * 50_000:,} dollars, according to spokesperson {b}.")


def _passage_history(r):
    y = r.randint(1820, 1950)
    town = r.choice(CITIES)
    a, b = _people(r, 2)
    return (f"The old stone bridge near {town} was designed by {a} in {y} and opened in {y + r.randint(2, 6)}. "
            f"After a flood in {y + r.randint(20, 60)}, it was repaired under the supervision of the engineer "
            f"{b}, who later became mayor of {town}.")


def _passage_schedule(r):
    a, b, c = r.sample(NAMES, 3)
    d1, d2 = _dates(r, 2)
    return (f"Reminder: {a}'s dentist appointment is on {d1} at {r.randint(8, 11)}:{r.choice(['00', '15', '30'])} am. "
            f"{b} has a parent-teacher meeting at {r.randint(3, 6)} pm on the same day, and the plumber, "
            f"{c} {r.choice(SURNAMES)}, is coming on {d2} to fix the boiler.")


def _passage_receipt(r):
    items = r.sample(GOODS, 3)
    parts = ", ".join(f"{g} {_money(r.randint(lo, hi) + r.choice([0, 0.5, 0.99]))}" for g, lo, hi in items)
    return f"Bought: {parts}. Paid by card on {_date(r)} at {r.choice(SHOPS)}, {r.choice(CITIES)}."


def _passage_trip(r):
    c1, c2 = r.sample(CITIES, 2)
    code = f"{r.choice(['AQ', 'LT', 'NV', 'SK'])}{r.randint(100, 999)}"
    return (f"Flight {code} leaves {c1} at {r.randint(6, 11)}:{r.choice(['05', '20', '45'])} am on {_date(r)} and "
            f"lands in {c2} at {r.randint(1, 9)}:{r.choice(['10', '30', '55'])} pm local time. The hotel, "
            f"the {r.choice(['Harbour View', 'Old Mill', 'Linden', 'Station'])} Hotel, is booked for "
            f"{r.randint(2, 9)} nights under the name {_person(r)}.")


def _passage_job(r):
    role = r.choice(["data analyst", "library assistant", "bike mechanic", "sous chef", "project coordinator",
                     "junior web developer"])
    org = r.choice(ORGS)
    return (f"{org[0].upper()}{org[1:]} in {r.choice(CITIES)} is hiring a {role}. Applicants need "
            f"{r.randint(1, 5)} years of relevant experience. The salary starts at {r.randint(28, 60)},000 dollars. "
            f"Apply by {_date(r)}; questions go to {_person(r)} in the hiring team.")


def _passage_minutes(r):
    a, b, c = r.sample(NAMES, 3)
    return (f"Present: {a}, {b} and {c}. {a} will send the updated budget by {r.choice(WEEKDAYS)}. {b} agreed to "
            f"book the venue for the {r.choice(PROJECTS)} launch and to contact {r.choice(ORGS)}. {c} will draft "
            f"the invitation. The next meeting is on {_date(r)}.")


def _passage_recipe(r):
    return (f"For the pancakes, whisk {r.randint(2, 3)} eggs with {r.choice([250, 300, 350])} ml of milk, then "
            f"add {r.choice([150, 200, 220])} grams of flour, a pinch of salt and {r.randint(1, 2)} tablespoons of "
            f"melted butter. Rest the batter for {r.choice([10, 20, 30])} minutes and cook each pancake for about "
            f"{r.choice(['one minute', 'two minutes', 'ninety seconds'])} a side.")


EXTRACTION_KINDS = {
    "people": (["Extract the names and dates from this text:",
                "List every person, place and date mentioned in the following passage:",
                "From the passage below, return a JSON object with the people, places and dates it mentions:",
                "Extract the key facts (who, what, where, when) from this text:",
                "Make a table of the people mentioned in this text and their roles:"],
               [_passage_meeting, _passage_news, _passage_history, _passage_job, _passage_trip]),
    "numbers": (["Pull out every number in this text and say what each one refers to:",
                 "Extract all the dates and amounts from this text:",
                 "Find the dates in this text and put them in chronological order:"],
                [_passage_order, _passage_receipt, _passage_schedule, _passage_trip, _passage_news]),
    "purchases": (["List the items and prices in this text, then give the total:",
                   "Extract each product, its quantity and its price from this text as a table:"],
                  [_passage_order, _passage_receipt]),
    "actions": (["List the action items in these notes and who is responsible for each:",
                 "Extract the tasks and deadlines from this text as a checklist:",
                 "Who has to do what, and by when? Answer from this text:"],
                [_passage_minutes, _passage_schedule, _passage_meeting]),
    "recipe": (["List every ingredient with its quantity from this recipe:",
                "Extract the ingredients and the cooking times from this text:"],
               [_passage_recipe]),
}


def _extraction(rng: random.Random) -> list[list[str]]:
    groups = []
    for instructions, passages in EXTRACTION_KINDS.values():
        for ins in instructions:
            for make in passages:
                groups.append([f"{ins}\n\n{make(rng)}" for _ in range(4)])
    return groups


# ---- rewrite (training only) ----------------------------------------------------------------------------------

REWRITE_FACTS = _lines("""
Glaciers form where more snow falls in winter than melts in summer; over many years the snow is pressed into ice, and once the ice is thick enough, its own weight makes it flow slowly downhill, carving out wide valleys as it goes.
Honeybees communicate the location of flowers through a so-called waggle dance, in which the angle of the dance relative to vertical indicates the direction of the food source relative to the sun, and the duration of the waggle indicates its distance.
The human heart is a muscular pump with four chambers that beats roughly one hundred thousand times each day, sending oxygen-rich blood out through the arteries and receiving oxygen-poor blood back through the veins.
Paper was first made in China around two thousand years ago from plant fibres such as mulberry bark and hemp, and the technique spread slowly along trade routes until it reached Europe more than a thousand years later.
Lighthouses were once operated by keepers who lived on site, trimmed the wicks, wound the clockwork that turned the lens and kept a detailed log, but almost all of them are now automated and monitored remotely.
Composting turns kitchen scraps and garden waste into a dark, crumbly material that improves soil, as long as the heap has a balance of green and brown material, enough air and a little moisture.
The metric system was introduced in France in the 1790s in order to replace a confusing collection of local units with a single decimal system based on the metre and the kilogram.
Tides are caused mainly by the gravitational pull of the Moon, with a smaller contribution from the Sun, and most coastlines therefore experience two high tides and two low tides roughly every twenty-four hours and fifty minutes.
A budget is simply a plan for your money: you write down what comes in, decide in advance how much goes to bills, savings and everyday spending, and then compare the plan with what actually happened at the end of the month.
Octopuses have a large brain for an invertebrate and around two-thirds of their neurons are located in their arms, which allows each arm to taste, touch and react with a surprising degree of independence.
Sourdough bread rises because of a culture of wild yeasts and lactic acid bacteria; the yeasts produce carbon dioxide that lifts the dough, while the bacteria produce acids that give the bread its tangy flavour and help it keep longer.
Early maps were often drawn from travellers' descriptions rather than measurements, so coastlines were distorted, distances were guessed and unknown regions were sometimes filled with imaginary islands or sea monsters.
Rainwater harvesting means collecting the rain that falls on roofs and other surfaces and storing it in tanks, so that it can be used later for watering gardens, flushing toilets or, after proper treatment, even drinking.
Many migrating birds navigate using a combination of cues, including the position of the sun, the patterns of the stars at night, landmarks such as coastlines and rivers, and the Earth's magnetic field.
Electric cars use a large rechargeable battery to power one or more electric motors, and because they have far fewer moving parts than petrol cars, they generally need less routine maintenance.
The Great Wall of China is not a single wall but a series of walls and fortifications built, rebuilt and extended by different dynasties over roughly two thousand years to protect northern borders.
Tea plants are evergreen shrubs, and green, black and oolong teas can all come from the same species; the difference lies mainly in how long the picked leaves are allowed to oxidise before they are dried.
A credit score is a number that lenders use to estimate how likely you are to repay borrowed money, and it is usually based on your history of repayments, how much you currently owe and how long you have had credit.
Ocean waves are mostly created by wind blowing across the surface of the water, and the size of a wave depends on the wind's speed, how long it blows and the distance of open water it travels over.
Volunteering has been linked in several studies to lower stress and a stronger sense of purpose, and many volunteers say the social contact is as valuable to them as the work itself.
Public libraries in many countries lend far more than books today, offering free internet access, language classes, help with job applications and, in some places, tools, musical instruments and even seeds.
Vaccination works by showing the immune system a harmless version or part of a germ, so that the body learns to recognise it and can respond quickly and strongly if it ever meets the real thing.
""")

_FACILITIES = ["recycling receptacles", "bicycle storage facility", "meeting room booking system"]
_SANCTIONS = ["a formal written notice", "the suspension of access privileges", "further disciplinary review"]
_AD_ITEMS = ["water bottle", "desk lamp", "backpack", "kettle", "rain jacket", "notebook"]

REWRITE_TONE_PASSAGES = [
    lambda r: (f"Pursuant to the updated {r.choice(ORGS).removeprefix('the ')} policy, effective {_date(r)}, all "
               f"personnel are required to utilise the designated {r.choice(_FACILITIES)} and non-compliance may "
               f"result in {r.choice(_SANCTIONS)}."),
    lambda r: (f"hey so i cant make it to the {r.choice(['pub quiz', 'barbecue', 'rehearsal', 'book club'])} on "
               f"{r.choice(WEEKDAYS)}, my {r.choice(['car', 'bike', 'boiler', 'laptop'])} broke down again lol. "
               f"can we maybe move it to {r.choice(WEEKDAYS)}?? sorry!!"),
    lambda r: (f"It is my considered opinion, having reflected on the matter at considerable length, that the "
               f"{r.choice(['sofa', 'printer', 'lawnmower', 'coffee machine'])} we purchased for the "
               f"{r.choice(['office', 'flat', 'community hall'])} is not, in point of fact, as "
               f"{r.choice(['reliable', 'comfortable', 'quiet', 'efficient'])} as we had originally been led to "
               f"believe by the salesperson."),
    lambda r: (f"I am writing to complain about the service I received at {r.choice(SHOPS)} on {_date(r)}. "
               f"I waited {r.randint(20, 50)} minutes, the staff seemed uninterested and the "
               f"{r.choice(['bicycle pump', 'phone charger', 'kettle', 'desk lamp', 'watering can'])} I bought was "
               f"{r.choice(['broken', 'missing a part', 'not the model I paid for'])}. "
               f"I expect a full refund."),
    lambda r: (f"To reset the {r.choice(['router', 'thermostat', 'smart speaker', 'printer'])}, press and hold the "
               f"small button on the back for {r.randint(5, 15)} seconds until the light flashes "
               f"{r.choice(['orange', 'blue', 'white'])}, then wait {r.randint(1, 3)} minutes before reconnecting "
               f"it to the app and entering your network password again."),
    lambda r: (f"Our {r.choice(['new', 'award-winning', 'handmade'])} {r.choice(_AD_ITEMS)} combines "
               f"clever design with everyday practicality, giving you more time for what matters, and it is "
               f"backed by a {r.randint(1, 5)}-year guarantee and free returns within {r.choice([14, 30, 60])} days."),
    lambda r: (f"Due to unforeseen circumstances the {r.choice(['swimming pool', 'town library', 'sports centre'])} "
               f"will be closed from {_date(r)} until further notice, and members are kindly requested to direct "
               f"all enquiries to the main office, which will remain open during normal working hours."),
    lambda r: (f"The team at {r.choice(ORGS)} has been working very hard on the {r.choice(PROJECTS)} project and "
               f"we had a lot of meetings and also some problems with the budget but in the end it was finished "
               f"on {_date(r)} and most people were happy with it even though it was late."),
]

REWRITE_INSTRUCTIONS = _lines("""
Rewrite this in simpler English:
Summarise this in one sentence:
Make this sound more formal:
Make this friendlier and more casual:
Rewrite this so a ten-year-old could understand it:
Shorten this to under 25 words without losing the main point:
Fix the grammar and punctuation in this text:
Turn this into three short bullet points:
Rewrite this more politely:
Paraphrase this without changing its meaning:
Rewrite this as a short message to a friend:
""")


def _rewrite(rng: random.Random) -> list[list[str]]:
    groups = []
    for fact in REWRITE_FACTS:
        ins = _shuffled(rng, [i for i in REWRITE_INSTRUCTIONS
                              if not any(w in i for w in ("grammar", "politely", "formal"))])
        groups.append([f"{i}\n\n{fact}" for i in ins[:4]])
    for make in REWRITE_TONE_PASSAGES:
        ins = _shuffled(rng, REWRITE_INSTRUCTIONS)
        groups.append([f"{i}\n\n{make(rng)}" for i in ins] + [f"{i}\n\n{make(rng)}" for i in ins])
    return groups


# ---- families: (name, weight within its category, groups) ------------------------------------------------------

FAMILIES = {
    "explanation": [("topics", 88, _explanation_topics), ("questions", 12, _explanation_questions)],
    "chat": [("situations", 24, _chat_situations), ("planning", 11, _chat_planning), ("skills", 16, _chat_skills),
             ("how-to", 17, _chat_howto), ("recommend", 9, _chat_recommend), ("fun", 7, _chat_fun),
             ("decisions", 6, _chat_decisions), ("gifts", 4, _chat_gifts), ("interactive", 6, _chat_interactive)],
    "code": [("functions", 52, _code_functions), ("sql-bash", 16, _code_sql_bash), ("concepts", 20, _code_concepts),
             ("tools", 12, _code_tools)],
    "math": [("problems", 86, _math_problems), ("concepts", 14, _math_concepts)],
    "list": [("lists", 100, _lists)],
    "prose": [("stories", 38, _prose_stories), ("poems", 18, _prose_poems), ("scenes", 14, _prose_scenes),
              ("practical", 30, _prose_practical)],
    "extraction": [("passages", 100, _extraction)],
    "rewrite": [("passages", 100, _rewrite)],
}


# The original prompt set (split t/h, category, prompt), in file order: kept as it was, except the training
# prompts that are near-duplicates of a held-out one.
ORIGINAL = """
t	explanation	What is photosynthesis?
t	explanation	What are the main ideas behind photosynthesis?
t	explanation	Can you describe gravity to a beginner?
t	explanation	Explain gravity in simple terms.
t	explanation	Explain the water cycle in simple terms.
t	explanation	How does the water cycle work?
t	explanation	What are the main ideas behind black holes?
t	explanation	Give me a short overview of black holes.
t	explanation	Give me a short overview of inflation in economics.
t	explanation	Explain inflation in economics in simple terms.
t	explanation	Can you describe vaccines to a beginner?
t	explanation	What are the main ideas behind vaccines?
t	explanation	Why is the internet important?
t	explanation	Explain the internet to a ten-year-old.
t	explanation	Summarize what people should know about machine learning.
t	explanation	What is machine learning?
t	explanation	Why is climate change important?
t	explanation	Can you describe climate change to a beginner?
t	explanation	What is plate tectonics?
t	explanation	Explain plate tectonics to a ten-year-old.
t	explanation	Give me a short overview of the immune system.
t	explanation	What is the immune system?
t	explanation	Give me a short overview of electricity.
t	explanation	Explain electricity to a ten-year-old.
t	explanation	Can you describe the stock market to a beginner?
t	explanation	What are the main ideas behind the stock market?
t	explanation	What is DNA?
t	explanation	Why is DNA important?
t	explanation	Can you describe volcanoes to a beginner?
h	explanation	What is volcanoes?
t	explanation	Explain the French Revolution in simple terms.
t	explanation	Why is the French Revolution important?
t	explanation	Give me a short overview of the Roman Empire.
t	explanation	What are the main ideas behind the Roman Empire?
t	explanation	Why is democracy important?
t	explanation	Explain democracy in simple terms.
t	explanation	Give me a short overview of blockchain.
t	explanation	Why is blockchain important?
t	explanation	Explain nuclear energy to a ten-year-old.
t	explanation	Can you describe nuclear energy to a beginner?
t	explanation	Give me a short overview of solar panels.
t	explanation	What is solar panels?
h	explanation	What is rainbows?
h	explanation	Why is rainbows important?
t	explanation	What is the moon's phases?
t	explanation	Can you describe the moon's phases to a beginner?
t	explanation	Can you describe tides to a beginner?
t	explanation	Why is tides important?
t	explanation	Explain earthquakes to a ten-year-old.
t	explanation	What are the main ideas behind earthquakes?
t	explanation	Why is antibiotics important?
t	explanation	How does antibiotics work?
t	explanation	Why is the human heart important?
t	explanation	Explain the human heart in simple terms.
t	explanation	Why is sleep important?
h	explanation	How does sleep work?
t	explanation	Explain memory in the brain in simple terms.
t	explanation	Give me a short overview of memory in the brain.
t	explanation	Summarize what people should know about evolution.
t	explanation	Can you describe evolution to a beginner?
t	explanation	Give me a short overview of supply and demand.
t	explanation	Explain supply and demand to a ten-year-old.
t	explanation	Summarize what people should know about compound interest.
h	explanation	Explain compound interest to a ten-year-old.
t	explanation	Can you describe recycling to a beginner?
t	explanation	How does recycling work?
h	explanation	What are the main ideas behind the greenhouse effect?
h	explanation	Explain the greenhouse effect in simple terms.
t	explanation	How does magnets work?
t	explanation	Explain magnets to a ten-year-old.
t	explanation	Explain sound waves to a ten-year-old.
h	explanation	What is sound waves?
t	explanation	What are the main ideas behind light?
h	explanation	Why is light important?
t	explanation	What is the seasons?
t	explanation	What are the main ideas behind the seasons?
t	explanation	What are the main ideas behind cloud computing?
t	explanation	Explain cloud computing to a ten-year-old.
t	explanation	What is encryption?
t	explanation	Explain encryption to a ten-year-old.
t	explanation	What are the main ideas behind search engines?
t	explanation	Can you describe search engines to a beginner?
t	explanation	Explain batteries to a ten-year-old.
t	explanation	What is batteries?
t	explanation	Why is airplanes flying important?
t	explanation	Can you describe airplanes flying to a beginner?
t	explanation	What are the main ideas behind bees and pollination?
t	explanation	Summarize what people should know about bees and pollination.
t	explanation	How does the printing press work?
t	explanation	Explain the printing press in simple terms.
t	explanation	Explain the Industrial Revolution in simple terms.
t	explanation	What is the Industrial Revolution?
t	explanation	Can you describe the Renaissance to a beginner?
t	explanation	Give me a short overview of the Renaissance.
t	explanation	Why is taxes important?
t	explanation	Can you describe taxes to a beginner?
t	explanation	Summarize what people should know about credit scores.
t	explanation	What are the main ideas behind credit scores?
t	explanation	Give me a short overview of meditation.
t	explanation	Can you describe meditation to a beginner?
h	explanation	Explain exercise and health to a ten-year-old.
t	explanation	Summarize what people should know about exercise and health.
t	explanation	What are the main ideas behind nutrition labels?
t	explanation	Can you describe nutrition labels to a beginner?
t	explanation	What are the main ideas behind the periodic table?
t	explanation	Summarize what people should know about the periodic table.
t	explanation	What are the main ideas behind atoms?
t	explanation	How does atoms work?
t	explanation	Explain chemical reactions to a ten-year-old.
h	explanation	What are the main ideas behind chemical reactions?
t	explanation	Can you describe friction to a beginner?
t	explanation	What are the main ideas behind friction?
t	explanation	Give me a short overview of weather forecasts.
h	explanation	Summarize what people should know about weather forecasts.
t	explanation	How does hurricanes work?
t	explanation	Explain hurricanes to a ten-year-old.
t	explanation	Can you describe the ozone layer to a beginner?
t	explanation	Give me a short overview of the ozone layer.
t	explanation	Explain deserts to a ten-year-old.
t	explanation	What are the main ideas behind deserts?
h	explanation	How does rainforests work?
t	explanation	Can you describe rainforests to a beginner?
t	explanation	Summarize what people should know about coral reefs.
t	explanation	Explain coral reefs in simple terms.
t	explanation	What are the main ideas behind the solar system?
t	explanation	Explain the solar system in simple terms.
t	explanation	How does stars work?
t	explanation	Explain stars in simple terms.
t	explanation	What is galaxies?
t	explanation	Give me a short overview of galaxies.
t	explanation	Give me a short overview of time zones.
t	explanation	What are the main ideas behind time zones?
h	explanation	Explain GPS in simple terms.
t	explanation	Why is GPS important?
h	explanation	How does 3D printing work?
t	explanation	Can you describe 3D printing to a beginner?
t	explanation	Explain robots in simple terms.
t	explanation	Explain robots to a ten-year-old.
t	explanation	Summarize what people should know about electric cars.
t	explanation	What are the main ideas behind electric cars?
t	explanation	What is operating systems?
t	explanation	What are the main ideas behind operating systems?
t	explanation	Why is databases important?
t	explanation	What is databases?
h	explanation	Give me a short overview of computer viruses.
t	explanation	Summarize what people should know about computer viruses.
t	explanation	How does the Olympic Games work?
t	explanation	Why is the Olympic Games important?
t	explanation	Give me a short overview of classical music.
t	explanation	How does classical music work?
t	explanation	Explain impressionist painting in simple terms.
t	explanation	What is impressionist painting?
t	explanation	What is the Great Wall of China?
t	explanation	Explain the Great Wall of China in simple terms.
t	explanation	What are the main ideas behind the pyramids of Egypt?
t	explanation	Summarize what people should know about the pyramids of Egypt.
t	explanation	What is World War I?
t	explanation	Explain World War I in simple terms.
h	explanation	Summarize what people should know about the Cold War.
t	explanation	How does the Cold War work?
t	explanation	What is bread baking?
h	explanation	How does bread baking work?
t	explanation	Can you describe coffee roasting to a beginner?
h	explanation	What are the main ideas behind coffee roasting?
t	explanation	What are the main ideas behind wine making?
t	explanation	Explain wine making in simple terms.
t	explanation	How does composting work?
t	explanation	Why is composting important?
t	explanation	What are the main ideas behind bicycles?
t	explanation	Summarize what people should know about bicycles.
t	explanation	What are the main ideas behind photography?
t	explanation	Summarize what people should know about photography.
t	explanation	Summarize what people should know about the theory of relativity.
t	explanation	Can you describe the theory of relativity to a beginner?
t	code	Write a Python function that reverses a string.
t	code	Write a C function that reverses a string, and explain how it works.
t	code	Write a JavaScript function that checks whether a number is prime.
t	code	Write a Java function that checks whether a number is prime, and explain how it works.
t	code	Write a Python function that returns the factorial of n.
t	code	Write a Python function that returns the factorial of n, and explain how it works.
t	code	Write a C function that computes the n-th Fibonacci number.
h	code	Write a Rust function that computes the n-th Fibonacci number, and explain how it works.
t	code	Write a Java function that counts the vowels in a string.
t	code	Write a Go function that counts the vowels in a string, and explain how it works.
t	code	Write a Python function that removes duplicates from a list.
t	code	Write a Python function that removes duplicates from a list, and explain how it works.
h	code	Write a Rust function that finds the largest element of a list.
t	code	Write a JavaScript function that finds the largest element of a list, and explain how it works.
t	code	Write a Go function that sorts a list of numbers with bubble sort.
t	code	Write a Python function that sorts a list of numbers with bubble sort, and explain how it works.
t	code	Write a Python function that checks if a word is a palindrome.
t	code	Write a C function that checks if a word is a palindrome, and explain how it works.
t	code	Write a JavaScript function that merges two sorted lists.
h	code	Write a Java function that merges two sorted lists, and explain how it works.
t	code	Write a Python function that converts Celsius to Fahrenheit.
t	code	Write a Python function that converts Celsius to Fahrenheit, and explain how it works.
t	code	Write a C function that returns the sum of the digits of a number.
t	code	Write a Rust function that returns the sum of the digits of a number, and explain how it works.
h	code	Write a Java function that reads a text file and counts its lines.
t	code	Write a Go function that reads a text file and counts its lines, and explain how it works.
t	code	Write a Python function that flattens a nested list.
t	code	Write a Python function that flattens a nested list, and explain how it works.
t	code	Write a Rust function that computes the average of a list.
t	code	Write a JavaScript function that computes the average of a list, and explain how it works.
t	code	Write a Go function that finds the greatest common divisor of two numbers.
t	code	Write a Python function that finds the greatest common divisor of two numbers, and explain how it works.
t	code	Write a Python function that capitalizes the first letter of every word.
t	code	Write a C function that capitalizes the first letter of every word, and explain how it works.
t	code	Write a JavaScript function that checks whether two strings are anagrams.
h	code	Write a Java function that checks whether two strings are anagrams, and explain how it works.
t	code	Write a Python function that returns the even numbers of a list.
t	code	Write a Python function that returns the even numbers of a list, and explain how it works.
t	code	Write a C function that implements binary search.
t	code	Write a Rust function that implements binary search, and explain how it works.
t	code	Write a Java function that counts word frequencies in a sentence.
t	code	Write a Go function that counts word frequencies in a sentence, and explain how it works.
t	code	Write a Python function that validates an email address with a regular expression.
t	code	Write a Python function that validates an email address with a regular expression, and explain how it works.
t	code	Write a Rust function that converts a binary string to an integer.
t	code	Write a JavaScript function that converts a binary string to an integer, and explain how it works.
t	code	Write a Go function that rotates a list by k positions.
t	code	Write a Python function that rotates a list by k positions, and explain how it works.
t	code	Write a Python function that transposes a matrix.
t	code	Write a C function that transposes a matrix, and explain how it works.
t	code	What is the difference between a list and a tuple in Python?
t	code	Explain what a for loop is.
t	code	What does the `git commit` command do?
t	code	How do I create a virtual environment in Python?
t	code	Write a SQL query that selects all users older than 30.
t	code	What is recursion? Show a short example.
t	code	Explain the difference between `==` and `is` in Python.
t	code	What is an API?
t	code	Write a simple HTML page with a title and a paragraph.
t	code	How do I read a CSV file in Python?
t	code	What is object-oriented programming?
t	code	Explain what a hash table is.
t	code	What is Big O notation?
t	code	Write a bash command that counts the files in a directory.
t	code	What is the difference between HTTP and HTTPS?
t	code	How do I handle exceptions in Python?
t	code	Write a Python class for a bank account with deposit and withdraw methods.
t	code	What is a linked list?
t	code	Explain what JSON is and give an example.
t	code	How do I sort a dictionary by value in Python?
t	code	Write a SQL query that counts orders per customer.
t	code	What is the difference between a stack and a queue?
t	code	Write a Python script that prints the numbers from 1 to 100, but prints Fizz for multiples of 3 and Buzz for multiples of 5.
t	code	What does a compiler do?
t	code	Explain unit testing in a few sentences.
t	math	What is 72 plus 85?
t	math	Calculate 19 minus 48.
t	math	Can you compute 57 times 47 step by step?
t	math	What is 57 plus 15?
t	math	Calculate 21 minus 75.
t	math	Can you compute 46 times 46 step by step?
t	math	What is 46 plus 71?
h	math	Calculate 66 minus 67.
t	math	Can you compute 58 times 15 step by step?
t	math	What is 21 plus 42?
h	math	Calculate 88 minus 92.
t	math	Can you compute 41 times 79 step by step?
t	math	What is 15 plus 33?
t	math	Calculate 54 minus 58.
t	math	Can you compute 15 times 17 step by step?
t	math	What is 37 plus 66?
t	math	Calculate 54 minus 20.
t	math	Can you compute 31 times 97 step by step?
t	math	What is 25 plus 62?
t	math	Calculate 81 minus 28.
t	math	Can you compute 70 times 74 step by step?
h	math	What is 92 plus 20?
t	math	Calculate 27 minus 20.
t	math	Can you compute 55 times 77 step by step?
t	math	What is 14 plus 34?
t	math	Calculate 78 minus 30.
t	math	Can you compute 34 times 47 step by step?
t	math	What is 30 plus 75?
t	math	Calculate 83 minus 60.
t	math	Can you compute 39 times 39 step by step?
t	math	Anna has 13 apples and buys 8 more. How many apples does Anna have now?
t	math	Ben has 25 pencils and gives 5 to a friend. How many are left?
t	math	A box holds 8 books. How many books are in 3 boxes?
t	math	Dina shares 150 stickers equally among 6 friends. How many does each friend get?
t	math	A shirt costs 33 dollars and is on sale for 10 percent off. What is the sale price?
t	math	A train travels 380 kilometers in 3 hours. What is its average speed?
t	math	Grace has 39 stamps and buys 7 more. How many stamps does Grace have now?
h	math	Hiro has 16 oranges and gives 4 to a friend. How many are left?
t	math	A box holds 8 apples. How many apples are in 2 boxes?
h	math	Jack shares 16 pencils equally among 2 friends. How many does each friend get?
t	math	A shirt costs 35 dollars and is on sale for 10 percent off. What is the sale price?
t	math	A train travels 390 kilometers in 4 hours. What is its average speed?
t	math	Carlos has 7 cookies and buys 2 more. How many cookies does Carlos have now?
t	math	Dina has 19 marbles and gives 8 to a friend. How many are left?
t	math	A box holds 3 stamps. How many stamps are in 5 boxes?
t	math	Farid shares 27 oranges equally among 3 friends. How many does each friend get?
t	math	A shirt costs 33 dollars and is on sale for 15 percent off. What is the sale price?
t	math	A train travels 160 kilometers in 2 hours. What is its average speed?
t	math	Ines has 32 books and buys 6 more. How many books does Ines have now?
t	math	Jack has 33 stickers and gives 5 to a friend. How many are left?
t	math	A box holds 5 cookies. How many cookies are in 4 boxes?
t	math	Ben shares 30 marbles equally among 6 friends. How many does each friend get?
t	math	A shirt costs 26 dollars and is on sale for 15 percent off. What is the sale price?
t	math	A train travels 70 kilometers in 4 hours. What is its average speed?
h	math	Emma has 12 apples and buys 5 more. How many apples does Emma have now?
t	math	Farid has 28 pencils and gives 7 to a friend. How many are left?
t	math	A box holds 7 books. How many books are in 3 boxes?
t	math	Hiro shares 24 stickers equally among 4 friends. How many does each friend get?
t	math	A shirt costs 9 dollars and is on sale for 45 percent off. What is the sale price?
t	math	A train travels 340 kilometers in 2 hours. What is its average speed?
t	math	What is the square root of 144?
t	math	Solve for x: 2x + 6 = 14.
t	math	What is 15 percent of 200?
t	math	Is 91 a prime number?
t	math	What is the area of a circle with radius 3?
t	math	Convert 3/4 to a decimal.
t	math	What is the perimeter of a rectangle that is 5 by 8?
t	math	Explain what a prime number is.
t	math	What is the Pythagorean theorem?
t	math	How many seconds are in a day?
t	math	What is 2 to the power of 10?
t	math	Solve the equation 3x - 5 = 10.
t	math	What is the sum of the angles in a triangle?
t	math	Explain how to add two fractions.
t	math	What is the derivative of x squared?
t	math	What is the mean of 4, 8, 15, 16, 23 and 42?
t	math	How do you convert kilometers to miles?
t	math	What is a percentage? Give an example.
t	math	Round 3.14159 to two decimal places.
t	math	What is the volume of a cube with side 4?
t	list	What are some fruits that are high in vitamin C?
t	list	Name four fruits that are high in vitamin C and say one sentence about each.
t	list	Give me five tips for learning a new language.
t	list	Name six tips for learning a new language and say one sentence about each.
t	list	Give me four ways to save money.
t	list	Name five ways to save money and say one sentence about each.
h	list	Give me six famous scientists.
t	list	Name seven famous scientists and say one sentence about each.
t	list	Make a bulleted list of healthy breakfast ideas.
t	list	Name three healthy breakfast ideas and say one sentence about each.
t	list	Give me seven things to pack for a beach trip.
t	list	Name ten things to pack for a beach trip and say one sentence about each.
t	list	Give me three benefits of reading.
t	list	Name three benefits of reading and say one sentence about each.
t	list	Make a bulleted list of programming languages.
t	list	Name five programming languages and say one sentence about each.
h	list	Make a bulleted list of countries in South America.
t	list	Name four countries in South America and say one sentence about each.
t	list	Make a bulleted list of ways to reduce stress.
t	list	Name six ways to reduce stress and say one sentence about each.
t	list	What are some indoor hobbies?
h	list	Name five indoor hobbies and say one sentence about each.
t	list	What are some tips for a job interview?
t	list	Name seven tips for a job interview and say one sentence about each.
t	list	Give me five animals that live in the ocean.
t	list	Name three animals that live in the ocean and say one sentence about each.
t	list	What are some uses of baking soda?
t	list	Name ten uses of baking soda and say one sentence about each.
t	list	List three board games for families.
t	list	Name three board games for families and say one sentence about each.
h	list	Give me ten ways to be more productive.
t	list	Name five ways to be more productive and say one sentence about each.
h	list	Make a bulleted list of vegetables that grow well in pots.
t	list	Name four vegetables that grow well in pots and say one sentence about each.
t	list	List five classic novels.
t	list	Name six classic novels and say one sentence about each.
t	list	Give me four habits of successful people.
t	list	Name five habits of successful people and say one sentence about each.
h	list	List six things to do on a rainy day.
h	list	Name seven things to do on a rainy day and say one sentence about each.
t	list	List five ways to stay hydrated.
t	list	Name three ways to stay hydrated and say one sentence about each.
t	list	Give me seven tips for better sleep.
t	list	Name ten tips for better sleep and say one sentence about each.
t	list	List three skills every adult should have.
t	list	Name three skills every adult should have and say one sentence about each.
t	list	Give me ten planets in our solar system.
t	list	Name five planets in our solar system and say one sentence about each.
t	list	Make a bulleted list of musical instruments.
t	list	Name four musical instruments and say one sentence about each.
t	list	Make a bulleted list of ways to reduce plastic waste.
t	list	Name six ways to reduce plastic waste and say one sentence about each.
h	list	Make a bulleted list of exercises you can do at home.
h	list	Name five exercises you can do at home and say one sentence about each.
t	list	Make a bulleted list of questions to ask a doctor.
t	list	Name seven questions to ask a doctor and say one sentence about each.
t	list	Give me five safety tips for hiking.
t	list	Name three safety tips for hiking and say one sentence about each.
h	list	Make a bulleted list of ideas for a birthday party.
t	list	Name ten ideas for a birthday party and say one sentence about each.
t	list	Give me three common kitchen spices.
t	list	Name three common kitchen spices and say one sentence about each.
t	list	Make a bulleted list of ways to improve your writing.
t	list	Name five ways to improve your writing and say one sentence about each.
t	list	List three signs of dehydration.
h	list	Name four signs of dehydration and say one sentence about each.
t	list	What are some tips for public speaking?
t	list	Name six tips for public speaking and say one sentence about each.
t	list	Make a bulleted list of inventions of the 20th century.
t	list	Name five inventions of the 20th century and say one sentence about each.
t	list	What are some reasons to learn math?
t	list	Name seven reasons to learn math and say one sentence about each.
t	list	What are some dog breeds?
t	list	Name three dog breeds and say one sentence about each.
t	list	Give me seven ingredients for pancakes.
t	list	Name ten ingredients for pancakes and say one sentence about each.
t	list	What are some tips for studying for an exam?
t	list	Name three tips for studying for an exam and say one sentence about each.
t	list	What are some ways to make new friends?
t	list	Name five ways to make new friends and say one sentence about each.
t	prose	Write a short story about a dragon who is afraid of fire.
t	prose	Tell me a bedtime story about a dragon who is afraid of fire.
t	prose	Tell me a bedtime story about a robot learning to paint.
t	prose	Write a poem about a robot learning to paint.
t	prose	Write a poem about a lost puppy finding its way home.
h	prose	Write the opening paragraph of a novel about a lost puppy finding its way home.
t	prose	Write the opening paragraph of a novel about a girl who can talk to birds.
t	prose	Write a short story about a girl who can talk to birds.
t	prose	Write a short story about a lighthouse keeper.
t	prose	Tell me a bedtime story about a lighthouse keeper.
t	prose	Tell me a bedtime story about a time traveler stuck in 1850.
t	prose	Write a poem about a time traveler stuck in 1850.
t	prose	Write a poem about a cat who becomes mayor.
t	prose	Write the opening paragraph of a novel about a cat who becomes mayor.
t	prose	Write the opening paragraph of a novel about two friends building a treehouse.
t	prose	Write a short story about two friends building a treehouse.
t	prose	Write a short story about a baker in a small village.
t	prose	Tell me a bedtime story about a baker in a small village.
t	prose	Tell me a bedtime story about an astronaut on Mars.
t	prose	Write a poem about an astronaut on Mars.
t	prose	Write a poem about a pirate who hates the sea.
t	prose	Write the opening paragraph of a novel about a pirate who hates the sea.
h	prose	Write the opening paragraph of a novel about a magic library.
t	prose	Write a short story about a magic library.
t	prose	Write a short story about a snowman in summer.
t	prose	Tell me a bedtime story about a snowman in summer.
t	prose	Tell me a bedtime story about a boy and his grandfather fishing.
t	prose	Write a poem about a boy and his grandfather fishing.
t	prose	Write a poem about a detective solving a missing cake case.
t	prose	Write the opening paragraph of a novel about a detective solving a missing cake case.
t	prose	Write the opening paragraph of a novel about a tiny ant on a big adventure.
t	prose	Write a short story about a tiny ant on a big adventure.
t	prose	Write a short story about a wizard who forgot his spells.
h	prose	Tell me a bedtime story about a wizard who forgot his spells.
t	prose	Tell me a bedtime story about a knight and a friendly giant.
t	prose	Write a poem about a knight and a friendly giant.
t	prose	Write a poem about a city where it always rains.
t	prose	Write the opening paragraph of a novel about a city where it always rains.
t	prose	Write the opening paragraph of a novel about a musician who lost her voice.
t	prose	Write a short story about a musician who lost her voice.
t	prose	Write a haiku about autumn.
t	prose	Write a poem about the ocean.
t	prose	Write a short poem about friendship.
h	prose	Describe a sunset over the mountains.
t	prose	Describe a busy market in the morning.
t	prose	Describe your ideal house.
t	prose	Write a thank-you note to a teacher.
t	prose	Write an email to my boss asking for a day off.
t	prose	Write a short product description for a reusable water bottle.
t	prose	Write a birthday message for my sister.
t	prose	Write a short speech for a graduation ceremony.
t	prose	Write a letter to a friend who moved away.
h	prose	Write a review of a restaurant you enjoyed.
t	prose	Describe the smell of rain.
t	prose	Write a limerick about a cat.
h	prose	Write a motivational message for someone starting a new job.
t	prose	Write a short dialogue between a teacher and a student.
t	prose	Write an advertisement for a new bakery.
t	prose	Describe a winter morning in the city.
t	prose	Write a short blog post about the joy of walking.
h	prose	Write an apology email for missing a meeting.
t	prose	Write a toast for a wedding.
t	prose	Describe a forest at night.
t	prose	Write a short fable with a moral.
t	prose	Write a diary entry from a sailor in a storm.
t	prose	Write a postcard from Paris.
t	prose	Write a short poem about coffee.
t	prose	Write a cover letter for a barista job.
t	prose	Describe the perfect summer day.
h	prose	Write a short news report about a local festival.
h	chat	Hi! How are you today?
t	chat	Hello, can you help me with something?
t	chat	What's your favorite book and why?
t	chat	I feel tired all the time. What can I do?
t	chat	Can you recommend a good movie for tonight?
t	chat	I'm nervous about my exam tomorrow.
t	chat	What should I cook for dinner tonight?
t	chat	How can I be more confident?
h	chat	What is the meaning of life?
t	chat	Tell me a joke.
t	chat	Tell me a fun fact about animals.
t	chat	What do you think about cats?
t	chat	I want to start running. Where do I begin?
t	chat	How do I make a good cup of tea?
t	chat	What is a good gift for my dad?
t	chat	How can I stop procrastinating?
t	chat	I had a bad day at work.
t	chat	What should I name my new puppy?
h	chat	Can you help me plan a trip to Italy?
t	chat	How do I start learning to play the guitar?
t	chat	What are you able to do?
t	chat	Who are you?
t	chat	Good morning! Any tips for a productive day?
t	chat	How can I keep my plants alive?
t	chat	What should I do if I can't sleep?
t	chat	How do I apologize to a friend?
t	chat	Is it better to rent or buy a house?
h	chat	How do I learn to cook?
t	chat	What's the best way to learn history?
t	chat	How can I save money on groceries?
t	chat	My friend forgot my birthday. Should I be upset?
t	chat	Can you give me some advice on writing a resume?
t	chat	How do I stay motivated to exercise?
t	chat	What are some good questions to ask on a first date?
t	chat	How do I deal with stress at school?
t	chat	What's a healthy snack I can make quickly?
t	chat	How do I keep my room clean?
t	chat	What hobbies could I try this year?
h	chat	How can I improve my handwriting?
t	chat	How do I make friends in a new city?
t	chat	What is your favorite season?
h	chat	Can you help me choose between two job offers?
t	chat	How do I talk to my kids about screen time?
t	chat	What's the best way to learn English vocabulary?
t	chat	How do I ask for a raise?
t	chat	How can I be a better listener?
t	chat	What should I do on a free weekend?
t	chat	Do you have any tips for traveling alone?
t	chat	How do I start a garden?
t	chat	Thank you for your help!
t	chat	Can you cheer me up?
t	chat	What is a good morning routine?
t	chat	How do I prepare for a marathon?
t	chat	I want to learn to draw. Any advice?
t	chat	How do I stop biting my nails?
t	chat	What's the difference between a cold and the flu?
t	chat	How can I drink more water during the day?
t	chat	How do I train my dog to sit?
t	chat	What are good ways to relax after work?
t	chat	How do I write a good essay?
t	chat	Should I learn Python or JavaScript first?
t	chat	What is a good book for a teenager?
t	chat	How do I remember people's names?
t	chat	Can you suggest a weekend project for a beginner programmer?
t	chat	How should I prepare for a job interview?
t	chat	I'm bored. What should I do?
t	chat	How do I become a morning person?
t	chat	What's a simple recipe for pasta?
h	chat	How do I make my presentation more interesting?
t	chat	What are the benefits of learning a second language?
h	chat	Can you explain what you are?
t	chat	How do I budget my monthly salary?
t	chat	What is a good way to start a conversation?
t	chat	I want to read more books. How do I start?
t	chat	How do I fix a flat bicycle tire?
t	chat	How do I get better at chess?
t	chat	Can you help me write a to-do list for today?
h	chat	What do I need to know before adopting a cat?
t	chat	How can I reduce my screen time?
t	chat	What is the best way to learn math?
t	chat	What should I bring to a picnic?
t	chat	How do I care for a sourdough starter?
t	chat	How do I choose a good laptop?
t	chat	What can I do to help the environment?
t	chat	How do I politely say no?
h	chat	Why do people enjoy music so much?
t	chat	How long should I nap?
t	chat	What should I know about investing as a beginner?
t	chat	How do I become a better writer?
t	chat	What is a good way to spend a rainy Sunday?
"""


if __name__ == "__main__":
    sys.exit(main())
