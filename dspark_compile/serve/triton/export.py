"""`export-triton`: a Triton model repository serving a bundle with the Python backend."""

from __future__ import annotations

import shutil
from pathlib import Path

from dspark_compile.bundle import load_bundle
from dspark_compile.errors import BundleError

MODEL_PY = Path(__file__).with_name("model.py")

CONFIG = """\
name: "{name}"
backend: "python"
max_batch_size: 0
model_transaction_policy {{ decoupled: {decoupled} }}
input [
  {{ name: "text_input" data_type: TYPE_STRING dims: [ 1 ] }},
  {{ name: "max_tokens" data_type: TYPE_INT32 dims: [ 1 ] optional: true }},
  {{ name: "temperature" data_type: TYPE_FP32 dims: [ 1 ] optional: true }},
  {{ name: "top_p" data_type: TYPE_FP32 dims: [ 1 ] optional: true }},
  {{ name: "top_k" data_type: TYPE_INT32 dims: [ 1 ] optional: true }},
  {{ name: "seed" data_type: TYPE_INT64 dims: [ 1 ] optional: true }},
  {{ name: "chat" data_type: TYPE_BOOL dims: [ 1 ] optional: true }}
]
output [
  {{ name: "text_output" data_type: TYPE_STRING dims: [ 1 ] }},
  {{ name: "finish_reason" data_type: TYPE_STRING dims: [ 1 ] }},
  {{ name: "token_ids" data_type: TYPE_INT64 dims: [ -1 ] }}
]
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
parameters {{ key: "bundle" value: {{ string_value: "{bundle}" }} }}
parameters {{ key: "threads" value: {{ string_value: "{threads}" }} }}
parameters {{ key: "max_queue" value: {{ string_value: "{max_queue}" }} }}
"""


def export_triton(bundle: Path, repo: Path, name: str = "dspark", decoupled: bool = True, copy: bool = False,
                  threads: int = 0, max_queue: int = 256, force: bool = False) -> Path:
    """Write REPO/NAME/{config.pbtxt, 1/model.py} (and 1/bundle when `copy`); returns the model folder.

    Without `copy` the config names the bundle by its absolute path (same machine or a shared volume);
    with it the repository is self-contained (for a container image or a Kubernetes volume).
    """
    load_bundle(bundle)  # verified now rather than when Triton loads the model
    if not name or any(c in name for c in '/\\" '):
        raise BundleError(f"model name {name!r}: expected a plain folder name (no spaces, quotes or slashes)")
    model = Path(repo) / name
    if model.exists():
        if not force:
            raise BundleError(f"{model} exists; pass --force to replace it")
        shutil.rmtree(model)
    version = model / "1"
    version.mkdir(parents=True)
    shutil.copy(MODEL_PY, version / "model.py")
    if copy:
        shutil.copytree(bundle, version / "bundle")
        where = "bundle"
    else:
        where = str(Path(bundle).resolve())
    (model / "config.pbtxt").write_text(CONFIG.format(
        name=name, decoupled="true" if decoupled else "false", bundle=where,
        threads=threads, max_queue=max_queue))
    return model

