"""Typed, user-facing errors. The CLI prints these without a traceback."""


class DSparkError(Exception):
    """Base of every error a user can cause; its message says what was expected."""


class RecipeError(DSparkError):
    """A recipe file is malformed: names the file, key path, value and what is allowed."""


class ModelError(DSparkError):
    """A model source or architecture cannot be loaded or is not supported."""


class ExportError(DSparkError):
    """Tracing a model to ONNX failed or produced an invalid graph."""


class BuildError(DSparkError):
    """Building engines from the exported graphs failed."""


class BundleError(DSparkError):
    """A bundle is missing, incomplete, altered or of an unknown schema version."""


class EngineError(DSparkError):
    """An engine could not be created or run (backend missing, bad inputs)."""


class GenerationError(DSparkError):
    """A generation request is invalid (wrong types, token ids outside the vocabulary, empty prompt, beyond
    capacity, ...): refused at the door, before it reaches an engine (a server answers 400)."""


class RequestFailed(EngineError):
    """A valid request failed inside an engine; only that request ended, the others go on (a server answers 500)."""


class TrainingError(DSparkError):
    """Drafter training or calibration cannot proceed: missing data, a mismatched checkpoint, a bad setting."""


class QuantizeError(DSparkError):
    """Weights cannot be quantized as asked (shape, source blocks that do not match the graph's weights)."""
