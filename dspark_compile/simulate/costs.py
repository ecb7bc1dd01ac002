"""Step-time models for the simulator: what one verify (or prefill) pass and one drafter pass cost.

Two kinds, one interface (`CostModel`):

- `Roofline`: a target + drafter (model YAML) on a device (device YAML). A pass over N new tokens with
  contexts c_b takes max(compute, memory) + a fixed step overhead, where
      compute = FLOPs / (peak tensor FLOP/s · compute efficiency)
      memory  = bytes / (memory bandwidth · bandwidth efficiency)
  FLOPs = 2 · streamed params · N (+ attention: 4 · layers · q_heads · head_dim · Σ new tokens × context),
  bytes = streamed weights + the KV cache read (Σ_b c_b · KV bytes per token) + the new tokens' KV written.
  Every constant in the YAML files carries its source; the loader refuses one without.
- `MeasuredCosts`: a measured cost table (the format `measure-costs` writes into a bundle manifest, plus a
  prefill grid and a host overhead per step), e.g. this machine's, or a GPU's when one is lent.

Both also give the cost table the `Schedule` op and the guard budget with (`schedule_table`): what
`measure-costs` would have measured on that device, at the workload's typical context. `scheduler_costs` reads
it, or a table recorded before bundle schema 4 (one drafter time for both sampling modes, none per absorbed
position), as the runtime's `CostTable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from dspark_compile.runtime.cost_table import MODES, CostTable
from dspark_compile.simulate.trace import SimulateError

DATA = Path(__file__).resolve().parent / "data"


class CostModel(Protocol):
    name: str

    def forward_ms(self, rows: int, tokens: float, context: np.ndarray, prefill: bool) -> float:
        """One target pass over `rows` rows × `tokens` new tokens each (on average), after contexts [rows]."""

    def draft_ms(self, rows: int, absorbed: float, context: np.ndarray) -> float:
        """One drafter pass: absorb `absorbed` context rows per row (on average), draft one block."""

    def host_ms(self, rows: int) -> float:
        """The runtime's own time per decoding step (scheduling, bookkeeping), outside the engines."""

    def schedule_table(self, batch_sizes: list[int], block_size: int, context: int) -> dict[str, Any]:
        """A cost table in the manifest's format (`runtime/cost_table.py`: verify ms per batch size × tokens per
        row, draft ms per sampling mode, absorb ms per further pending position)."""


def scheduler_costs(table: dict[str, Any]) -> CostTable:
    """The scheduler's `CostTable` from a simulator's table: the manifest's format, or an older one (a trace or
    fixture recorded before bundle schema 4), whose one drafter time serves both modes and prices no backlog."""
    draft = table["draft_ms"]
    return CostTable.from_manifest({"absorb_ms": [0.0] * len(table["batch_sizes"]), "drafter_sha256": "", **table,
                                    "draft_ms": draft if isinstance(draft, dict) else dict.fromkeys(MODES, draft)})


def _greedy_draft_ms(costs: dict[str, Any]) -> list[float]:
    """The drafter times [batch sizes] of a measured table: greedy ones (`measure_costs`), or the one list an
    older table has."""
    draft = costs["draft_ms"]
    return draft["greedy"] if isinstance(draft, dict) else draft


def _constants(path: Path, required: tuple[str, ...]) -> tuple[str, dict[str, float], dict[str, str]]:
    """(name, values, sources) of a device or model YAML; every constant needs a value and a source."""
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise SimulateError(f"{path} not found" + (f"; shipped: {', '.join(known)}" if known else ""))
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SimulateError(f"{path}: not YAML ({e})") from None
    if not isinstance(d, dict) or not isinstance(d.get("constants"), dict):
        raise SimulateError(f"{path}: expected a mapping with 'name' and 'constants'")
    values, sources, problems = {}, {}, []
    for key, c in d["constants"].items():
        if not isinstance(c, dict) or not isinstance(c.get("value"), (int, float)) or not str(c.get("source", "")).strip():
            problems.append(f"constants.{key} = {c!r}: expected {{value: number, source: where it comes from}}")
            continue
        values[key], sources[key] = float(c["value"]), str(c["source"]).strip()
    problems += [f"constants.{k}: missing" for k in required if k not in values and k not in d["constants"]]
    if problems:
        raise SimulateError(f"{path}: invalid\n  " + "\n  ".join(problems))
    return str(d.get("name", path.stem)), values, sources


def resolve(kind: str, name_or_path: str) -> Path:
    """A shipped device/model file by name (e.g. 'h200', 'qwen3-8b'), or a path to one."""
    p = Path(name_or_path)
    return p if p.suffix in (".yaml", ".yml") else DATA / kind / f"{name_or_path}.yaml"


DEVICE_KEYS = ("memory_bandwidth_gb_s", "peak_tflops", "memory_gb", "bandwidth_efficiency", "compute_efficiency",
               "step_overhead_ms", "host_ms_per_step", "host_ms_per_row")
MODEL_KEYS = ("layers", "hidden_size", "q_heads", "kv_heads", "head_dim", "intermediate_size", "vocab_size",
              "weight_bytes", "kv_bytes", "drafter_layers", "drafter_markov_rank", "drafter_taps", "block_size")


@dataclass(frozen=True)
class Roofline:
    """A target + drafter on a device, from their YAMLs (see the module docstring)."""

    name: str
    device: dict[str, float]
    model: dict[str, float]
    sources: dict[str, str]  # "device.key" / "model.key" -> source

    @classmethod
    def load(cls, device: str, model: str) -> "Roofline":
        dname, dv, ds = _constants(resolve("devices", device), DEVICE_KEYS)
        mname, mv, ms = _constants(resolve("models", model), MODEL_KEYS)
        return cls(f"{mname} on {dname}", dv, mv, {**{f"device.{k}": v for k, v in ds.items()},
                                                   **{f"model.{k}": v for k, v in ms.items()}})

    # ---------------------------------------------------------------- sizes
    @property
    def layer_params(self) -> float:
        m = self.model
        h, q, kv = m["hidden_size"], m["q_heads"] * m["head_dim"], m["kv_heads"] * m["head_dim"]
        return 2 * h * q + 2 * h * kv + 3 * h * m["intermediate_size"]  # q, o; k, v; gate, up, down

    @property
    def lm_head_params(self) -> float:
        return self.model["vocab_size"] * self.model["hidden_size"]

    @property
    def target_streamed_params(self) -> float:
        """Read from memory every pass (the input embedding is only gathered)."""
        return self.model["layers"] * self.layer_params + self.lm_head_params

    @property
    def drafter_streamed_params(self) -> float:
        """Drafter layers, its lm_head (a copy of the target's), the taps projection and the Markov head's W2."""
        m = self.model
        fc = m["drafter_taps"] * m["hidden_size"] * m["hidden_size"]
        return m["drafter_layers"] * self.layer_params + self.lm_head_params + fc + m["vocab_size"] * m["drafter_markov_rank"]

    def kv_bytes_per_token(self, layers: float) -> float:
        m = self.model
        return 2 * layers * m["kv_heads"] * m["head_dim"] * m["kv_bytes"]

    def weight_gb(self) -> float:
        return (self.target_streamed_params + self.lm_head_params + self.drafter_streamed_params) * self.model["weight_bytes"] / 1e9

    # ---------------------------------------------------------------- times
    def _pass_ms(self, tokens: float, flops: float, nbytes: float) -> float:
        d = self.device
        compute = flops / (d["peak_tflops"] * 1e12 * d["compute_efficiency"])
        memory = nbytes / (d["memory_bandwidth_gb_s"] * 1e9 * d["bandwidth_efficiency"])
        return max(compute, memory) * 1e3 + d["step_overhead_ms"]

    def _attention_flops(self, layers: float, new_tokens: float, context_tokens: float) -> float:
        m = self.model
        return 4 * layers * m["q_heads"] * m["head_dim"] * new_tokens * context_tokens

    def forward_ms(self, rows: int, tokens: float, context: np.ndarray, prefill: bool) -> float:
        m, n = self.model, rows * tokens
        ctx = float(np.sum(context)) + rows * tokens / 2  # mean context each new token attends to, × rows
        flops = 2 * self.target_streamed_params * n + self._attention_flops(m["layers"], tokens, ctx)
        kv = self.kv_bytes_per_token(m["layers"])
        nbytes = self.target_streamed_params * m["weight_bytes"] + kv * (float(np.sum(context)) + n)
        return self._pass_ms(n, flops, nbytes)

    def draft_ms(self, rows: int, absorbed: float, context: np.ndarray) -> float:
        m = self.model
        g = int(m["block_size"])
        n = rows * (absorbed + g)  # context rows absorbed + the block's slots
        ctx = float(np.sum(context)) + rows * (absorbed + g) / 2
        flops = (2 * (m["drafter_layers"] * self.layer_params) * n + 2 * self.lm_head_params * rows * g
                 + 2 * m["drafter_taps"] * m["hidden_size"] ** 2 * rows * absorbed
                 + self._attention_flops(m["drafter_layers"], absorbed + g, ctx))
        kv = self.kv_bytes_per_token(m["drafter_layers"])
        nbytes = self.drafter_streamed_params * m["weight_bytes"] + kv * (float(np.sum(context)) + rows * absorbed)
        return self._pass_ms(n, flops, nbytes)

    def host_ms(self, rows: int) -> float:
        return self.device["host_ms_per_step"] + self.device["host_ms_per_row"] * rows

    def schedule_table(self, batch_sizes: list[int], block_size: int, context: int) -> dict[str, Any]:
        ctx = lambda b: np.full(b, context, np.float64)  # noqa: E731
        ms = [[round(self.forward_ms(b, t, ctx(b), False), 4) for t in range(1, block_size + 2)] for b in batch_sizes]
        absorbed = 2  # a typical round's anchor + one accepted draft
        draft = [round(self.draft_ms(b, absorbed, ctx(b)), 4) for b in batch_sizes]  # the roofline has no modes
        absorb = [round(max(self.draft_ms(b, absorbed + 1, ctx(b)) - self.draft_ms(b, absorbed, ctx(b)), 0.0), 4)
                  for b in batch_sizes]
        return {"batch_sizes": list(batch_sizes), "tokens_per_row": list(range(1, block_size + 2)), "ms": ms,
                "draft_ms": dict.fromkeys(MODES, draft), "absorb_ms": absorb, "context": context,
                "engine_sha256": f"roofline:{self.name}", "drafter_sha256": f"roofline:{self.name}"}

    def kv_gb(self, rows: int, context: int) -> float:
        m = self.model
        per_token = self.kv_bytes_per_token(m["layers"]) + self.kv_bytes_per_token(m["drafter_layers"])
        return rows * context * per_token / 1e9


@dataclass(frozen=True)
class MeasuredCosts:
    """A measured table: verify ms [batch sizes][1..G+1 tokens per row], drafter ms [batch sizes] (or, when
    measured, [rows][context rows absorbed per row]), a prefill grid ms [rows][tokens per row], and the host
    time per step as a + b·rows. Between measured batch sizes
    (and prefill lengths) times are interpolated linearly, beyond them extrapolated from the last two."""

    name: str
    batch_sizes: tuple[int, ...]
    verify: np.ndarray  # [len(batch_sizes), G+1] ms
    draft: np.ndarray  # [len(batch_sizes)] ms
    prefill_rows: tuple[int, ...]
    prefill_tokens: tuple[int, ...]
    prefill: np.ndarray  # [len(prefill_rows), len(prefill_tokens)] ms
    host: tuple[float, float]  # ms per step, ms per row
    table: dict[str, Any]  # the cost table the scheduler budgets with
    absorb: dict[str, Any] | None = None  # drafter ms [rows][absorbed context rows per row], when measured

    @classmethod
    def from_dict(cls, name: str, costs: dict[str, Any], host: tuple[float, float],
                  table: dict[str, Any] | None = None) -> "MeasuredCosts":
        """`costs`: `measure_costs`' dict with a `prefill` grid ({rows, tokens, ms}); `table`: what the
        scheduler saw (default: `costs` itself)."""
        try:
            pf = costs["prefill"]
            return cls(name, tuple(costs["batch_sizes"]), np.array(costs["ms"], np.float64),
                       np.array(_greedy_draft_ms(costs), np.float64), tuple(pf["rows"]), tuple(pf["tokens"]),
                       np.array(pf["ms"], np.float64), host, table or costs, costs.get("draft_absorb"))
        except KeyError as e:
            raise SimulateError(f"measured costs {name}: missing {e} (need batch_sizes, ms, draft_ms and "
                                "prefill {rows, tokens, ms})") from None

    def forward_ms(self, rows: int, tokens: float, context: np.ndarray, prefill: bool) -> float:
        if prefill:
            by_rows = [_interp(tokens, self.prefill_tokens, line) for line in self.prefill]
            return _interp(rows, self.prefill_rows, by_rows)
        by_rows = [_interp(tokens, range(1, self.verify.shape[1] + 1), line) for line in self.verify]
        return _interp(rows, self.batch_sizes, by_rows)

    def draft_ms(self, rows: int, absorbed: float, context: np.ndarray) -> float:
        if self.absorb is None:  # measure_costs' drafter times: one absorbed row
            return _interp(rows, self.batch_sizes, self.draft)
        a = self.absorb
        return _interp(rows, a["rows"], [_interp(absorbed, a["absorbed"], line) for line in a["ms"]])

    def host_ms(self, rows: int) -> float:
        return self.host[0] + self.host[1] * rows

    def schedule_table(self, batch_sizes: list[int], block_size: int, context: int) -> dict[str, Any]:
        return self.table


def _interp(x: float, xs, ys) -> float:
    """Linear in x through (xs, ys); beyond the ends, the line through the last two points (at least ys[0])."""
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    if len(xs) == 1:
        return float(ys[0])
    if x > xs[-1]:
        return float(ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (x - xs[-1]))
    return float(np.interp(x, xs, ys))
