"""The model server that runs inside every Nomad task (``mlctl serve``).

Modules, one concept each: ``options`` (what to serve and how), ``contract`` (the
bundle's own hooks), ``loader`` (safe model loading), ``rows`` (joining and splitting
batches), ``batching`` (adaptive micro-batching), ``tensors`` (the Open Inference
Protocol v2 wire format), ``metrics`` (Prometheus), ``http`` (bodies, errors, access
log), ``app`` (the Starlette routes), ``server`` (uvicorn, workers, draining) and
``once`` (serve one request and stop).
"""
