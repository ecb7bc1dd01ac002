"""A bounded load test: 64 concurrent streaming clients (some hang up mid-stream) against the tiny bundle.

Nothing may be lost or duplicated, no batch row may leak, and every greedy completion that ran to the end must
equal its offline twin (its text and token count)."""

from __future__ import annotations

from tests.serve.load import run_load

PROMPTS = ["The quick brown fox", "hello", "Once upon a time, in a land far away", "abc", "1 2 3 4",
           "What is the capital of France?", "zzz", "Dear diary,"]


def test_64_streams_with_disconnects(server, offline):
    print("\n" + run_load(server, offline, "tiny-llama", PROMPTS, (4, 10), clients=64, per_client=2))
