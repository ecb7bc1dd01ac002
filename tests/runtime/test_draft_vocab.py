"""The draft vocabulary Verify reads beside q_full: the bundle's `draft_vocab.npy`, the drafter graph's own ids."""

import numpy as np
import onnx
import pytest
from onnx import external_data_helper, numpy_helper

from dspark_compile.bundle import load_bundle
from dspark_compile.errors import EngineError
from dspark_compile.runtime.drafter import DRAFT_VOCAB_FILE, draft_vocabulary


def _graph_ids(path):
    model = onnx.load(str(path), load_external_data=False)
    (tensor,) = [t for t in model.graph.initializer if t.name == "draft_vocab"]
    if external_data_helper.uses_external_data(tensor):
        external_data_helper.load_external_data_for_tensor(tensor, str(path.parent))
    return numpy_helper.to_array(tensor)


def test_the_bundle_file_holds_the_drafter_graphs_ids(tiny_bundles):
    bundle = load_bundle(tiny_bundles("llama"))
    ids = draft_vocabulary(bundle.path(DRAFT_VOCAB_FILE), bundle.model["vocab_size"])
    np.testing.assert_array_equal(ids, _graph_ids(bundle.path(bundle.engine("drafter")["files"][0])))
    assert bundle.manifest["drafter"]["draft_vocab_size"] == ids.size and DRAFT_VOCAB_FILE in bundle.manifest["files"]


@pytest.mark.parametrize("content, why", [
    (np.array([3, 2, 5], np.int32), "strictly increasing"),
    (np.array([1, 2, 5], np.int64), "int32"),
    (np.zeros((2, 2), np.int32), "vector"),
    (np.array([1, 2, 500], np.int32), r"\[0, 300\)"),
    (None, "cannot read"),
])
def test_a_bad_vocabulary_file_is_refused_by_name(tmp_path, content, why):
    path = tmp_path / DRAFT_VOCAB_FILE
    if content is None:
        path.write_bytes(b"not an array")
    else:
        np.save(path, content)
    with pytest.raises(EngineError, match=why) as err:
        draft_vocabulary(path, 300)
    assert str(path) in str(err.value)
