"""The single definition of each fused DSpark op: name, domain, version, attributes, inputs, outputs.

Everything else (reference, ONNX function bodies, plugin creators and YAML, docs) is checked against the
``OpSpec`` objects here. Constraints that come from TensorRT (shared/reference/tensorrt.md, "Pitfalls"):

- The ONNX parser hands INT attributes to plugins as int32, so INT ranges stay within int32.
- Plugins cannot emit int64, bool or uint8: outputs are int32 or float32 only; integer inputs are int32.

Shapes are symbolic: ``B`` batch rows, ``G`` block size (>= 1, taken from the input shapes, no attribute),
``V`` vocabulary, ``Vd`` draft vocabulary (``Vd <= V``), ``H`` drafter hidden size, ``r`` Markov rank,
``N`` entries of the cost table.
Shared semantics (filtering, sampling, greedy ties) are written out in ``SEMANTICS`` below; the numpy
reference in ``reference.py`` is the executable form and the oracle.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable

from dspark_compile.errors import ExportError

DOMAIN = "dspark"
PLUGIN_NAMESPACE = DOMAIN  # TensorRT plugin namespace of the ops (generated into plugins/common/dsparkOpSpec.h)
PAD_TOKEN = -1  # Verify.out_tokens entries after the correction/bonus token
INT32_MAX = 2**31 - 1

SEMANTICS = """\
All arithmetic is float32 (float16 inputs are cast to float32 first), except the sums over a vocabulary:
"sum" and "cumsum" (the index-order prefix sum) of filter() and sample() accumulate in float64, and the
comparisons with them are made in float64. Any summation order then gives the same decisions except within
about 1e-13 of a boundary: a float32 sequential sum over 150k entries was off by 1e-4, so implementations that
summed in other orders (blocks, trees, threads) disagreed on draws. Schedule's cumsum is float32, sequential.

filter(logits[V], temperature t > 0, top_k k, top_p p) -> q[V]:
  1. z = logits / t                         (IEEE float32 division)
  2. top-k, on when 0 < k < V: kth = k-th largest z; z[z < kth] = -inf.
     Ties: every token equal to the k-th largest value is kept, so more than k tokens may survive.
  3. m = max(z); e = exp(z - m)             (masked entries give exactly 0)
  4. top-p, on when p < 1: s = e sorted descending; c = cumsum(s); j = min(count(c < p * sum(e)), V-1);
     cut = s[j]; e[e < cut] = 0. This keeps the smallest set of most likely tokens whose mass >= p;
     ties: every token equal to the boundary value is kept.
  5. q = e / S with S = float32(sum(e)).
greedy (t <= 0): token = argmax(logits), the lowest index wins ties; its distribution is one-hot.
sample(w[V] >= 0, u in [0,1)) -> index: c = cumsum(w); S = sum(w);
  index = min(count(c <= u * S), count(c < S)). This is the inverse CDF: the first index whose cumulative
  weight exceeds u*S; it never returns a zero-weight token and needs no normalisation.
sigmoid(x) = 1 / (1 + exp(-x)).
Integer outputs of two implementations agree exactly unless a decision falls within float rounding of a
boundary (exp may differ by an ulp between libraries); float outputs agree to ~1e-6.
"""


class AttrType(str, enum.Enum):
    """ONNX attribute kinds a DSpark op may use (all map to int32/float32 plugin fields)."""

    INT = "INT"
    FLOAT = "FLOAT"
    INTS = "INTS"
    FLOATS = "FLOATS"


class ScheduleMode(enum.IntEnum):
    """Values of ``Schedule.mode``.

    THRESHOLD is DeepSpec's per-slot rule (``eval/dspark/draft_ops.py`` ``_confident_prefix_length``): the
    draft is cut at the first slot whose OWN confidence c_k is below the threshold, so c_0..c_{l-1} >= t.
    SURVIVAL cuts on the cumulative survival a_k = c_0 * ... * c_k instead (a_0..a_{l-1} >= t): the same t
    gives a shorter or equal depth. The op reads survivals only, so THRESHOLD tests c_k < t as
    a_k < t * a_{k-1} (a_{-1} = 1), both sides float32: rounding can differ from DeepSpec's test only when c_k
    is within an ulp of t. DeepSpec compares its raw confidence; ours is STS-calibrated (temperatures 1.0
    unless `calibrate` ran, then the two are the same numbers). Hand-worked, t = 0.5, c = [0.9, 0.8, 0.6, 0.4]:
    a = [0.9, 0.72, 0.432, 0.1728]; THRESHOLD verifies 3 (c_3 = 0.4 < 0.5), SURVIVAL verifies 2 (a_2 < 0.5).
    """

    FIXED = 0
    SURVIVAL = 1
    COST = 2
    THRESHOLD = 3


@dataclass(frozen=True)
class AttrSpec:
    """One attribute: its type, default and what values are allowed (a closed range and/or choices)."""

    name: str
    type: AttrType
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple[int, ...] | None = None

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        lo = "-inf" if self.min is None else repr(self.min)
        hi = "+inf" if self.max is None else repr(self.max)
        return f"{self.type.value} in [{lo}, {hi}]"

    def check(self, op: str, value: Any) -> Any:
        """Return ``value`` coerced to this attribute's Python type, or raise ``ExportError``."""
        scalar = self.type in (AttrType.INT, AttrType.FLOAT)
        py = int if self.type in (AttrType.INT, AttrType.INTS) else float
        values = [value] if scalar else list(value)
        coerced = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (py is int and v != int(v)):
                raise ExportError(f"{op}: attribute '{self.name}' = {value!r} has the wrong type; "
                                  f"allowed: {self.allowed()}")
            v = py(v)
            bad = (self.choices is not None and v not in self.choices) or \
                  (self.min is not None and v < self.min) or (self.max is not None and v > self.max)
            if bad:
                raise ExportError(f"{op}: attribute '{self.name}' = {value!r} is out of range; "
                                  f"allowed: {self.allowed()}")
            coerced.append(v)
        return coerced[0] if scalar else tuple(coerced)


@dataclass(frozen=True)
class OpTensor:
    """One input or output of an op: symbolic shape and the dtypes it may have (a graph's concrete I/O is
    `engine.base.TensorSpec`)."""

    name: str
    shape: tuple[str, ...]
    dtypes: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class Constraint:
    """A check across attributes, e.g. ``min_len <= max_len``."""

    doc: str
    holds: Callable[[dict[str, Any]], bool] = field(compare=False)


@dataclass(frozen=True)
class OpSpec:
    """The single definition of one custom op."""

    name: str
    version: int
    doc: str
    attributes: tuple[AttrSpec, ...]
    inputs: tuple[OpTensor, ...]
    outputs: tuple[OpTensor, ...]
    constraints: tuple[Constraint, ...] = ()
    domain: str = DOMAIN

    def __post_init__(self):
        for t in self.outputs:
            assert set(t.dtypes) <= {"int32", "float32"}, f"{self.name}.{t.name}: TensorRT-unsafe dtype"
        for a in self.attributes:
            if a.type in (AttrType.INT, AttrType.INTS):
                assert a.min is not None and a.max is not None and -(2**31) <= a.min <= a.max <= INT32_MAX
            a.check(self.name, a.default)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)

    def attr(self, name: str) -> AttrSpec:
        """The attribute called ``name``; ``ExportError`` naming the known ones otherwise."""
        for a in self.attributes:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.attributes) or "none"
        raise ExportError(f"{self.name}: unknown attribute '{name}'; known attributes: {known}")

    def resolve_attrs(self, given: dict[str, Any]) -> dict[str, Any]:
        """Validate ``given`` and fill in defaults; returns every attribute in declaration order."""
        for name in given:
            self.attr(name)
        out = {a.name: a.check(self.name, given.get(a.name, a.default)) for a in self.attributes}
        for c in self.constraints:
            if not c.holds(out):
                raise ExportError(f"{self.name}: attributes {out} violate the constraint '{c.doc}'")
        return out


_F = ("float32",)
_HF = ("float16", "float32")
_I = ("int32",)

DRAFT_SAMPLE = OpSpec(
    name="DraftSample",
    version=2,  # 2: q_full over the draft vocabulary (1: scattered to the target's)
    doc=("Markov-corrected draft sampling plus calibrated confidences for one block of G slots, over a draft "
         "vocabulary of Vd target ids (draft_vocab, strictly increasing in [0, V); arange(V) for a drafter that "
         "scores the whole vocabulary). Slot k: e = markov_w1[x_{k-1}] (x_{-1} = anchor; x are target ids); "
         "z = block_logits[k] + markov_w2 @ e over the Vd entries; j = argmax(z) if temperature <= 0 else "
         "sample(filter(z), uniforms[k]); the token is x_k = draft_vocab[j]; tokens are drawn left to right. "
         "q_full[k] is the distribution j was drawn from, over the draft vocabulary (entry j is the draft mass "
         "of target id draft_vocab[j]; every other target id has mass 0; one-hot when greedy): Verify takes it "
         "with draft_vocab, so its residual max(0, p - q) stays exact and no [B, G, V] tensor is written. When "
         "every row is greedy q_full is [B, G, 1] ones instead (the one-hot's entry at each drafted token: "
         "Verify reads no other entry of a greedy row's q); the TensorRT plugin, whose output shapes cannot "
         "depend on values, writes the one-hot over the draft vocabulary, which Verify reads the same way. "
         "confidence c_k = sigmoid((conf_w . [block_hidden[k]; e] + conf_b) / sts_temps[k]); "
         "survival a_k = a_{k-1} * c_k (a_{-1} = 1). Gemma's final-logit softcapping is applied to "
         "block_logits by the drafter graph before this op. Requires G >= 1."),
    attributes=(),
    inputs=(
        OpTensor("block_logits", ("B", "G", "Vd"), _HF, "drafter lm_head output U_k over the draft vocabulary"),
        OpTensor("block_hidden", ("B", "G", "H"), _HF, "normed drafter hidden states hs_k"),
        OpTensor("anchor", ("B",), _I, "last token the target produced (x0)"),
        OpTensor("markov_w1", ("V", "r"), _HF, "Markov embedding W1 (checkpoint layout)"),
        OpTensor("markov_w2", ("Vd", "r"), _HF, "Markov output W2, draft-vocabulary rows (bias = W2 @ W1[x])"),
        OpTensor("draft_vocab", ("Vd",), _I, "target id of each draft-vocabulary entry, strictly increasing"),
        OpTensor("conf_w", ("H+r",), _HF, "confidence head weight"),
        OpTensor("conf_b", ("1",), _HF, "confidence head bias"),
        OpTensor("sts_temps", ("G",), _F, "STS temperature per slot (> 0)"),
        OpTensor("temperature", ("B",), _F, "sampling temperature; <= 0 means greedy for that row"),
        OpTensor("top_k", ("B",), _I, "top-k; 0 (or >= V) = off"),
        OpTensor("top_p", ("B",), _F, "top-p; >= 1 = off"),
        OpTensor("uniforms", ("B", "G"), _F, "one uniform in [0,1) per slot (rng stream DRAFT)"),
    ),
    outputs=(
        OpTensor("draft_tokens", ("B", "G"), _I, "drafted tokens"),
        OpTensor("draft_q", ("B", "G"), _F, "q of each drafted token; 1.0 when greedy"),
        OpTensor("q_full", ("B", "G", "Vq"), _F, "filtered draft distribution sampled from, over the draft "
                 "vocabulary (one-hot when greedy); Vq = Vd, or 1 (ones) if all rows greedy"),
        OpTensor("confidences", ("B", "G"), _F, "STS-calibrated c_k"),
        OpTensor("survivals", ("B", "G"), _F, "cumulative products a_k"),
    ),
)

SCHEDULE = OpSpec(
    name="Schedule",
    version=1,
    doc=("Number of draft tokens each row verifies. Inactive rows get 0. fixed: min(fixed_len, G). "
         "threshold: leading count of slots whose own confidence >= threshold, tested on the survivals as "
         "NOT (a_k < threshold * a_{k-1}) with a_{-1} = 1 (DeepSpec's per-slot cut), clamped to "
         "[min(min_len,G), min(max_len,G)]. survival: leading count of survivals >= threshold, clamped alike. "
         "cost: budget K = argmax_k (R + sum of the k largest lagged survivals of active rows) / "
         "cost_table[R + k - 1] over all k with 1 <= R + k <= N (no early break; first max wins; R = active "
         "rows); then the K largest CURRENT survivals of active rows are selected (ties: lower position, "
         "then lower row) and each row verifies its selected count, clamped as in threshold mode. "
         "Survivals must lie in [0, 1], costs must be > 0, N >= 1 (pass a [1] dummy in other modes)."),
    attributes=(
        AttrSpec("mode", AttrType.INT, int(ScheduleMode.COST), "0 fixed, 1 survival, 2 cost, 3 threshold",
                 min=0, max=3, choices=tuple(int(m) for m in ScheduleMode)),
        AttrSpec("fixed_len", AttrType.INT, INT32_MAX, "fixed mode length (capped at G)", min=0, max=INT32_MAX),
        AttrSpec("threshold", AttrType.FLOAT, 0.5, "threshold/survival modes: cut on per-slot confidences / "
                 "on survivals", min=0.0, max=1.0),
        AttrSpec("min_len", AttrType.INT, 0, "lower clamp (threshold, survival and cost modes)", min=0,
                 max=INT32_MAX),
        AttrSpec("max_len", AttrType.INT, INT32_MAX, "upper clamp (threshold, survival and cost modes)",
                 min=0, max=INT32_MAX),
    ),
    inputs=(
        OpTensor("survivals", ("B", "G"), _F, "current survivals a_k (non-increasing per row)"),
        OpTensor("lagged_survivals", ("B", "G"), _F, "survivals from two rounds before (budget only)"),
        OpTensor("cost_table", ("N",), _F, "verify step time for n = 1..N tokens in the batch"),
        OpTensor("active", ("B",), _I, "1 (nonzero) = row is live"),
    ),
    outputs=(OpTensor("verify_lengths", ("B",), _I, "draft tokens to verify per row, 0..G"),),
    constraints=(Constraint("min_len <= max_len", lambda a: a["min_len"] <= a["max_len"]),),
)

VERIFY = OpSpec(
    name="Verify",
    version=2,  # 2: input draft_vocab, q_full over the draft vocabulary
    doc=("Lossless acceptance of up to verify_lengths[b] drafts. Greedy rows (temperature <= 0): accept "
         "while d_i == argmax(target_logits[i]); the next token is argmax(target_logits[accepted]). "
         "Sampling rows: p_i = filter(target_logits[i]) with the row's temperature/top_k/top_p; accept d_i "
         "iff p_i(d_i) >= q_i or uniforms[i] * q_i < p_i(d_i) (q_i = draft_q[i]; the division-free, "
         "strict form never accepts a token with p = 0); at the first rejection draw "
         "sample(max(0, p_i - q_i), uniforms[G + i]) with q_i the draft distribution over target ids "
         "(q_i[draft_vocab[j]] = q_full[i, j], 0 elsewhere), or sample(p_i, uniforms[G + i]) when that "
         "residual's total is <= residual_eps; if all l are accepted draw sample(p_l, uniforms[2G]). "
         "q_full and draft_vocab may be [B, G, 1] and [1] dummies (ignored) when no sampling row verifies a "
         "draft. G = 0 "
         "is allowed: then the op is a plain decode step emitting the target's own next token."),
    attributes=(
        AttrSpec("residual_eps", AttrType.FLOAT, 1e-6, "residual mass at or below which p is used",
                 min=0.0, max=1.0),
    ),
    inputs=(
        OpTensor("target_logits", ("B", "G+1", "V"), _HF, "target logits at anchor + G draft positions"),
        OpTensor("draft_tokens", ("B", "G"), _I, "drafted tokens"),
        OpTensor("draft_q", ("B", "G"), _F, "q of each drafted token (DraftSample.draft_q)"),
        OpTensor("q_full", ("B", "G", "Vq"), _F, "draft distributions over the draft vocabulary (DraftSample.q_full); "
                 "Vq = Vd, or 1 if all rows greedy"),
        OpTensor("draft_vocab", ("Vq",), _I, "target id of each q_full entry (DraftSample's draft_vocab), strictly "
                 "increasing; [1] with a [B, G, 1] q_full"),
        OpTensor("verify_lengths", ("B",), _I, "drafts to consider per row (clamped to [0, G])"),
        OpTensor("uniforms", ("B", "2G+1"), _F, "[0:G] accept tests, [G:2G] residual draws, [2G] bonus"),
        OpTensor("temperature", ("B",), _F, "as in DraftSample"),
        OpTensor("top_k", ("B",), _I, "as in DraftSample"),
        OpTensor("top_p", ("B",), _F, "as in DraftSample"),
    ),
    outputs=(
        OpTensor("accepted", ("B",), _I, "number of accepted drafts"),
        OpTensor("out_tokens", ("B", "G+1"), _I, "accepted drafts, then the correction/bonus token, then -1"),
    ),
)

OPS: dict[str, OpSpec] = {s.name: s for s in (DRAFT_SAMPLE, SCHEDULE, VERIFY)}


def get_spec(op_name: str) -> OpSpec:
    """The spec of ``op_name``; ``ExportError`` listing the known ops otherwise."""
    try:
        return OPS[op_name]
    except KeyError:
        raise ExportError(f"unknown DSpark op '{op_name}'; known ops: {', '.join(OPS)}") from None


def spec_to_dict(spec: OpSpec) -> dict[str, Any]:
    """Render a spec as plain data (str/int/float/list/dict) for docs and plugin-YAML comparison."""
    def tensor(t: OpTensor) -> dict[str, Any]:
        return {"name": t.name, "shape": list(t.shape), "dtypes": list(t.dtypes), "doc": t.doc}

    def attr(a: AttrSpec) -> dict[str, Any]:
        d = {"name": a.name, "type": a.type.value, "default": a.default, "min": a.min, "max": a.max,
             "doc": a.doc}
        if a.choices is not None:
            d["choices"] = list(a.choices)
        if isinstance(a.default, tuple):
            d["default"] = list(a.default)
        return d

    return {
        "name": spec.name, "domain": spec.domain, "version": spec.version, "doc": spec.doc,
        "attributes": [attr(a) for a in spec.attributes],
        "inputs": [tensor(t) for t in spec.inputs],
        "outputs": [tensor(t) for t in spec.outputs],
        "constraints": [c.doc for c in spec.constraints],
    }


_ONNX_ATTR_KINDS = {AttrType.INT: 2, AttrType.FLOAT: 1, AttrType.INTS: 7, AttrType.FLOATS: 6}


def validate_node(node) -> dict[str, Any]:
    """Check an ``onnx.NodeProto`` against its spec; return its resolved attributes (defaults filled in).

    Raises ``ExportError`` naming the node, the op, the attribute and what is allowed.
    """
    from onnx import helper  # onnx is a core dependency; imported here to keep spec import light

    where = f"node '{node.name or '?'}' ({node.domain or 'ai.onnx'}::{node.op_type})"
    if node.domain != DOMAIN:
        raise ExportError(f"{where}: DSpark ops live in domain '{DOMAIN}', not '{node.domain}'")
    spec = get_spec(node.op_type)
    if len(node.input) != len(spec.inputs) or any(not n for n in node.input):
        raise ExportError(f"{where}: needs {len(spec.inputs)} non-empty inputs "
                          f"({', '.join(spec.input_names)}), got {list(node.input)}")
    if len(node.output) != len(spec.outputs):
        raise ExportError(f"{where}: needs {len(spec.outputs)} outputs ({', '.join(spec.output_names)}), "
                          f"got {list(node.output)}")
    given = {}
    for a in node.attribute:
        try:
            aspec = spec.attr(a.name)
        except ExportError as e:
            raise ExportError(f"{where}: {e}") from None
        if a.type != _ONNX_ATTR_KINDS[aspec.type]:
            raise ExportError(f"{where}: attribute '{a.name}' must be {aspec.type.value} "
                              f"({aspec.allowed()}), got ONNX attribute type {a.type}")
        given[a.name] = helper.get_attribute_value(a)
    try:
        return spec.resolve_attrs(given)
    except ExportError as e:
        raise ExportError(f"{where}: {e}") from None
