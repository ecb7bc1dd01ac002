"""Scale-out on Triton Inference Server: `export-triton` writes a model repository whose Python-backend model
(`model.py`, shipped as is) runs our runtime through the same engine loop as `dspark-compile serve`."""
