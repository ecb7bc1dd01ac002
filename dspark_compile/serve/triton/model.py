"""Triton Python-backend model serving a dspark-compile bundle (copied into a model repository by export-triton).

Inputs: text_input (BYTES [1]); optional max_tokens (INT32 [1]), temperature, top_p (FP32 [1]), top_k (INT32 [1]),
seed (INT64 [1]), chat (BOOL [1]: wrap text_input in the chat template as a user turn).
Outputs: text_output (BYTES [1]), finish_reason (BYTES [1]: eos | length | "" while streaming), token_ids
(INT64 [-1]: the tokens this response adds).

Decoupled (streaming): one response per engine step with new tokens (and the text they complete; a partial
UTF-8 character waits for the next), the last one flagged final. Not decoupled:
one response per request once it ends. Every request goes through one `Engine` (one batcher, one thread) for
the model instance's life, as in `dspark-compile serve`. The backend's Python must find dspark_compile and its
dependencies (onnxruntime, transformers; NumPy 1.x for Triton 2.51's stub): install dspark-compile into the
Python of the Triton image, or see `local.py` for how the tritonserver of the nvidia-pytriton wheel is set up.
"""

import json
import os
import threading

import numpy as np
import triton_python_backend_utils as pb_utils


def _param(config: dict, key: str, default: str = "") -> str:
    return config.get("parameters", {}).get(key, {}).get("string_value", default)


def _input(request, name: str, default):
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    return default if tensor is None else tensor.as_numpy().reshape(-1)[0]


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        from dspark_compile.runtime.api import Runtime
        from dspark_compile.serve.engine import Engine

        bundle = _param(config, "bundle")
        if not os.path.isabs(bundle):
            bundle = os.path.join(args["model_repository"], args["model_version"], bundle)
        threads = int(_param(config, "threads", "0")) or None
        self.rt = Runtime.load(bundle, threads=threads)
        batcher = self.rt.batcher()
        self.engine = Engine(batcher, max_queue=int(_param(config, "max_queue", "256")), block_size=batcher.block)
        self.engine.start(warmup=self.rt.encode("warm up"))
        self.engine.ready.wait()
        self.decoupled = pb_utils.using_decoupled_model_transaction_policy(config)

    def execute(self, requests):
        if self.decoupled:
            for request in requests:
                self._start(request, request.get_response_sender())
            return None
        done = [threading.Event() for _ in requests]
        answers = [None] * len(requests)

        def keep(i):
            def sink(response, final):
                if final:
                    answers[i] = response
                    done[i].set()
            return sink

        for i, request in enumerate(requests):
            self._start(request, keep(i))
        for event in done:
            event.wait()
        return answers

    def _start(self, request, sender):
        """Submit one request to the engine; `sender` gets its responses (a response sender, or a callable)."""
        from dspark_compile.errors import DSparkError
        from dspark_compile.runtime.sampling import SamplingParams
        from dspark_compile.serve.engine import Job, TextDeltas

        send = sender if callable(sender) else (
            lambda response, final: sender.send(response, flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
                                                if final else 0))
        try:
            text = _input(request, "text_input", b"")
            text = text.decode() if isinstance(text, bytes) else str(text)
            ids = self.rt.encode(text, chat=bool(_input(request, "chat", False)))
            sampling = SamplingParams(temperature=float(_input(request, "temperature", 0.0)),
                                      top_k=int(_input(request, "top_k", 0)), top_p=float(_input(request, "top_p", 1.0)),
                                      seed=int(_input(request, "seed", 0)))
            max_tokens = int(_input(request, "max_tokens", 16))
        except (DSparkError, UnicodeDecodeError) as exc:
            send(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))), True)
            return
        deltas = TextDeltas(self.rt.decode, ())
        sent = [0]  # tokens already sent
        job = None

        def sink(update):
            if update.error:
                send(pb_utils.InferenceResponse(error=pb_utils.TritonError(update.error)), True)
                return
            if not update.tokens and not update.last:
                return  # accepted
            if self.decoupled and not update.last and request.is_cancelled():
                self.engine.cancel(job)
                return
            delta = deltas.next(update) if self.decoupled else self.rt.decode(list(update.tokens), update.finish_reason)
            new = update.tokens[sent[0]:] if self.decoupled else update.tokens
            if not (len(new) or update.last):
                return
            sent[0] = len(update.tokens)
            reason = (update.finish_reason or "") if update.last else ""
            send(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("text_output", np.array([delta.encode()], dtype=np.object_)),
                pb_utils.Tensor("finish_reason", np.array([reason.encode()], dtype=np.object_)),
                pb_utils.Tensor("token_ids", np.array(new, dtype=np.int64)),
            ]), update.last)

        job = Job(ids, max_tokens, sampling, (), sink)
        try:
            self.engine.submit(job)
        except DSparkError as exc:
            send(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))), True)

    def finalize(self):
        self.engine.drain(0)
        self.engine.stop()
