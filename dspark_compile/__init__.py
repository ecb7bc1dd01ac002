"""dspark-compile: compile a target LLM and a DSpark drafter into engines, run them losslessly."""

__version__ = "0.1.0"
