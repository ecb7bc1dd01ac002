"""Shipping a bundle to a device: pack/unpack it with its checksums verified (`pack.py`), and build its
TensorRT plans on the device itself (`engines.py`), where the GPU and the TensorRT version they are
specific to are. Nothing here imports the compile stack (torch, onnx export): it runs in a runtime-only
install (`pip install dspark-compile`)."""
