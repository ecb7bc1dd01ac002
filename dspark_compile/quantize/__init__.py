"""Weight-only quantization of exported graphs (a build stage after tracing, before fusion).

`blocks`: the MatMulNBits and GGUF block formats; `passes`: graph -> graph passes with an error report;
`config`: the typed settings of one pass.
"""
