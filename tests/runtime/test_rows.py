"""Per-row state: join, move and take are derived from the fields, so a field added later is carried by all
three; the pending backlog grows in place."""

from dataclasses import dataclass

import numpy as np

from dspark_compile.runtime.rows import Pending, Request, RowState
from dspark_compile.runtime.sampling import SamplingParams

G, W = 3, 2


@dataclass
class WithExtra(RowState):
    extra: np.ndarray = None  # [B, 2] a field the batcher's code has never heard of


def _rows(ids: list[int], backlog: int) -> WithExtra:
    reqs = [Request(i, [1], 4, SamplingParams(seed=i)) for i in ids]
    n = len(ids)
    taps = np.arange(n * backlog * W, dtype=np.float32).reshape(n, backlog, W) + 100 * ids[0]  # [n, Δ, W]
    base = RowState.start(reqs, np.array(ids), Pending(taps, np.full(n, backlog, np.int64)), G)
    fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
    return WithExtra(**fields, extra=np.array([[i, -i] for i in ids], np.int64))


def test_join_move_and_take_carry_every_field_even_a_new_one():
    rows = _rows([0, 1], backlog=1).join(_rows([5, 6, 7], backlog=3))
    assert isinstance(rows, WithExtra)
    assert rows.extra[:, 0].tolist() == [0, 1, 5, 6, 7] and rows.anchor.tolist() == [0, 1, 5, 6, 7]
    assert [r.id for r in rows.requests] == rows.params.requests.tolist() == [0, 1, 5, 6, 7]
    assert rows.pending.taps.shape == (5, 3, W) and rows.pending.counts.tolist() == [1, 1, 3, 3, 3]
    moved_taps = rows.pending.taps[4].copy()
    rows.move(4, 1)  # the last row closes the gap of row 1
    rows = rows.take(slice(0, 4))
    assert isinstance(rows, WithExtra)
    assert rows.extra[:, 0].tolist() == [0, 7, 5, 6] and rows.params.seeds.tolist() == [0, 7, 5, 6]
    assert [r.id for r in rows.requests] == [0, 7, 5, 6] and rows.anchor.tolist() == [0, 7, 5, 6]
    np.testing.assert_array_equal(rows.pending.taps[1], moved_taps)
    assert rows.survivals.shape == rows.lagged_survivals.shape == (4, G)


def test_liveness_is_the_requests_finish_reason():
    rows = _rows([0, 1, 2], backlog=1)
    rows.requests[1].finish_reason = "cancelled"
    assert rows.live.tolist() == [True, False, True]


def test_pending_grows_in_place_and_keeps_every_position():
    pending = Pending.empty(2, W, np.float32)
    expected = [[], []]
    buffers = set()
    for step in range(100):
        taps = np.full((2, 2, W), step, np.float32)  # [B, T, W]
        counts = np.array([1, step % 2], np.int64)
        pending = pending.extend(taps, counts)
        buffers.add(id(pending.buffer))
        for b in range(2):
            expected[b] += [step] * int(counts[b])
    assert len(buffers) <= 8  # grown geometrically (1, 2, 4, .. 128), not copied every round
    assert pending.counts.tolist() == [100, 50]
    for b in range(2):
        assert pending.taps[b, : pending.counts[b], 0].tolist() == expected[b]
