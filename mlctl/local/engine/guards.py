"""Route guards: the ACL each endpoint requires, per the API docs' "ACL Required" column."""

from __future__ import annotations

from .acl import PERMISSION_DENIED
from .http import Guard, Request
from .jobops import ApiError


def ns(capability: str, *alternatives: str) -> Guard:
    """Namespace capability (any of the alternatives), or for ``*`` lists: allowed somewhere."""

    def guard(req: Request) -> None:
        caps = (capability, *alternatives)
        if req.namespace == "*":
            if not any(req.namespaces_with(c) for c in caps):
                raise ApiError(403, PERMISSION_DENIED)
            return
        if not any(req.grant.allow_namespace(req.namespace, c) for c in caps):
            raise ApiError(403, PERMISSION_DENIED)

    return guard


def coarse(area: str, level: str) -> Guard:
    def guard(req: Request) -> None:
        req.need(area, level)

    return guard


def management(req: Request) -> None:
    req.need_management()


def any_token(req: Request) -> None:
    """Any valid token (resolution already rejected unknown/expired ones)."""
