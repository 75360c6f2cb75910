"""A shortcut for the hot endpoints: exact path lookup straight to the handler.

Under load, Starlette's router, exception middleware and request/response wrappers
cost as much per request as the model call itself (profiled with py-spy: about a fifth
of the event loop's time). The inference endpoints of one served model have fixed
paths, so a dict lookup finds them; they run the very same guarded handlers, and every
other path goes on to Starlette unchanged.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send


class FastPath:
    """ASGI middleware: ``(method, exact path) -> (route, path params)`` before routing."""

    def __init__(
        self, app: ASGIApp, *, routes: dict[tuple[str, str], tuple[Route, dict[str, str]]]
    ) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            hit = self.routes.get((scope["method"], scope["path"]))
            if hit is not None:
                route, params = hit
                scope["route"] = route  # the access log labels metrics by its template
                scope["path_params"] = params
                response = await route.endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def hot_routes(
    routes: list[Route], paths: dict[str, dict[str, str]]
) -> dict[tuple[str, str], tuple[Route, dict[str, str]]]:
    """The POST routes whose template is in ``paths``, keyed by their concrete path."""
    table: dict[tuple[str, str], tuple[Route, dict[str, str]]] = {}
    for route in routes:
        params = paths.get(route.path)
        if params is not None and route.methods and "POST" in route.methods:
            table[("POST", route.path.format(**params))] = (route, params)
    return table
