"""Target model families as export-friendly PyTorch modules.

One shared decoder (`base.DecoderLM`), one declarative `FamilySpec` per family (`families.py`),
registered by HF model_type. Typical use:

    model = from_hf_model(hf_model)                       # shares the HF weights
    logits, taps, *new_kv = model(input_ids, positions, past_lengths, logit_index, *past_kv)
"""

from dspark_compile.models import families as _families  # noqa: F401  (registers the families)
from dspark_compile.models.arch import ArchConfig
from dspark_compile.models.base import DecoderLM
from dspark_compile.models.loading import build_model, from_hf_model
from dspark_compile.models.spec import FamilySpec, get_family, supported_families, supported_model_types
from dspark_compile.models.taps import check_tap_layers, default_tap_layers

__all__ = [
    "ArchConfig",
    "DecoderLM",
    "FamilySpec",
    "build_model",
    "check_tap_layers",
    "default_tap_layers",
    "from_hf_model",
    "get_family",
    "supported_families",
    "supported_model_types",
]
