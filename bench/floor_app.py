"""The HTTP floor: a bare ASGI endpoint answering a constant, under the same uvicorn.

Whatever a model server adds on top of this (routing, JSON, batching, the model) is
its own cost; the ratio to this floor says how much of the machine's HTTP capacity
the server keeps.

    python bench/floor_app.py PORT
"""

from __future__ import annotations

import sys
from typing import Any

BODY = b'{"predictions":["setosa"]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read (and drop) the request body, as a real endpoint must
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
