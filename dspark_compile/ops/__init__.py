"""The fused DSpark ops (DraftSample, Schedule, Verify): one definition, and everything checked against it.

- ``spec``: the single definition of each op (``OPS``), shared semantics, ``spec_to_dict``, ``validate_node``.
- ``rng``: counter-based uniforms (MurmurHash3) shared bit for bit with the C++/CUDA side.
- ``reference``: the numpy oracle.
- ``onnx_functions``: ONNX function bodies for ONNX Runtime; ``make_op_node``, ``add_op_functions``.
- ``fusion``: ``fuse_verify`` / ``fuse_draft_sample`` graph rewrites.
"""

from dspark_compile.ops.spec import (DOMAIN, DRAFT_SAMPLE, OPS, PAD_TOKEN, SCHEDULE, VERIFY, OpSpec,
                                     ScheduleMode, get_spec, spec_to_dict, validate_node)

__all__ = ["DOMAIN", "DRAFT_SAMPLE", "OPS", "PAD_TOKEN", "SCHEDULE", "VERIFY", "OpSpec", "ScheduleMode",
           "get_spec", "spec_to_dict", "validate_node"]
