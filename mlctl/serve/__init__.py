"""The model server that runs inside every Nomad task (``mlctl serve``).

Modules, one concept each: ``options`` (what to serve and how), ``contract`` (the
bundle's own hooks), ``loader`` (safe model loading), ``typed`` (JSON values to checked
arrays), ``rows`` (joining and splitting batches), ``runtime`` (the model's stages),
``tensors`` (the Open Inference Protocol v2 wire format), ``pipeline`` (a request's body
to its answer, on the model thread), ``batching`` (adaptive micro-batching, timeouts),
``metrics`` (Prometheus), ``http`` (bodies, errors, access log), ``protocol`` (HTTP
connection limits against hostile clients), ``openapi`` (the routes' OpenAPI document),
``state`` (what the routes share; loading), ``app`` (the Starlette routes), ``server``
(uvicorn, binding, draining), ``workers`` (``--workers N`` on ``SO_REUSEPORT``) and
``once`` (serve one request and stop).
"""
