"""The fused DSpark ops (DraftSample, Schedule, Verify): one definition, numpy reference, ONNX functions.

- ``spec``: the single definition of each op (``OPS``), ``spec_to_dict``, ``validate_node``.
- ``rng``: counter-based uniforms shared with the C++/CUDA side.
- ``reference``: numpy oracle.
"""

from dspark_compile.ops.spec import (DOMAIN, DRAFT_SAMPLE, OPS, PAD_TOKEN, SCHEDULE, VERIFY, OpSpec,
                                     ScheduleMode, get_spec, spec_to_dict, validate_node)

__all__ = ["DOMAIN", "DRAFT_SAMPLE", "OPS", "PAD_TOKEN", "SCHEDULE", "VERIFY", "OpSpec", "ScheduleMode",
           "get_spec", "spec_to_dict", "validate_node"]
