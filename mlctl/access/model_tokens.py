"""A person's bearer token for calling models: the one ``mlctl predict`` and the TUI send.

After ``mlctl login`` the user's Vault token may read ``identity/oidc/token/
mlctl-call-user-<name>``: a JWT Vault signs (15 minutes) whose claims name the models
the user may call. It is cached 0600 next to the login and reused until a minute
before it expires; ``fresh=True`` asks Vault again (after a 403, say, when a grant was
added since). ``MLCTL_MODEL_TOKEN`` wins over all of it (CI jobs, applications).
"""

from __future__ import annotations

import time

from mlctl import redact
from mlctl.access.callers import CallerKind, caller_role
from mlctl.credentials import (
    CachedModelToken,
    read_login,
    read_model_token,
    write_model_token,
)
from mlctl.errors import AuthError, InvalidInput, PermissionDenied
from mlctl.settings import Settings
from mlctl.vault import identity
from mlctl.vault.client import connect

#: A cached token this close to its expiry is replaced, so a call never carries one
#: that dies in flight (or within the servers' clock leeway).
MIN_REMAINING_SECONDS = 60.0


def model_token(settings: Settings, *, fresh: bool = False) -> str | None:
    """The bearer token to send to a model, or None when there is no identity to use."""
    if settings.model_token:
        redact.register(settings.model_token)
        return settings.model_token
    login = read_login(settings)
    if login is None:
        return None
    if login.vault_expired():
        raise AuthError(
            f"the login of {login.username} expired", hint="token expired — run mlctl login"
        )
    caller = f"{CallerKind.USER.value}:{login.username}"
    cached = None if fresh else read_model_token(settings)
    if cached is not None and cached.usable(caller, MIN_REMAINING_SECONDS):
        return cached.token
    role = caller_role(CallerKind.USER, login.username)
    vault = connect(settings, login.vault_token)
    now = time.time()
    try:
        issued = identity.issue_token(vault, role)
    except (InvalidInput, PermissionDenied) as exc:
        # No caller role yet (a user added before model access), or a policy without it.
        raise PermissionDenied(
            f"Vault gives {login.username} no token for calling models ({exc.message})",
            hint=f"ask an mlctl admin to run: mlctl access grant MODEL --user {login.username}",
        ) from None
    write_model_token(settings, CachedModelToken(caller, issued.token, now + issued.ttl))
    return issued.token
