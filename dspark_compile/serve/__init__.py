"""Serving a bundle: an OpenAI-compatible HTTP server over the continuous batcher, and Triton export.

protocol.py  the wire format (request models, SSE chunks, error bodies), engine-free
engine.py    one thread owning the batcher; jobs in and updates out through queues
metrics.py   Prometheus metrics (prometheus-client)
app.py       FastAPI routes: jobs from requests, responses from updates
server.py    load, warm up, run uvicorn, drain on SIGTERM
"""
