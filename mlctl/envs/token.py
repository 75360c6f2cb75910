"""A workspace's secret token, kept in the Nomad Variable ``nomad/jobs/<job_id>``.

Nomad gives every task read access to the variables at its own job's path (workload
identity), so the task's ``template`` block reads the token there; the token is never in
the job spec (readable by anyone with read-job), in argv, logs or ``-o json`` output.
Who else can read it is decided by Nomad ACLs: mlctl's data-scientist policy grants the
namespace's data scientists ``nomad/jobs/mlctl-env-*`` (anyone who may submit jobs in a
namespace could rewrite the job to reveal it anyway); viewers, operators and other
namespaces get no variable rights (vault-policies/).
"""

from __future__ import annotations

import secrets

from mlctl import redact
from mlctl.envs.render import TOKEN_ITEM, token_variable_path
from mlctl.nomad.client import NomadClient

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def ensure_token(client: NomadClient, job_id: str) -> bool:
    """Keep the job's token, or create one; True when this call created it.

    An existing token is kept, so updating an environment does not lock out its open
    browser sessions. Creation is check-and-set (``cas=0``): two concurrent creates
    cannot end up with different tokens.
    """
    path = token_variable_path(job_id)
    current = client.variables.read(path)
    if current and (current.get("Items") or {}).get(TOKEN_ITEM):
        redact.register(current["Items"][TOKEN_ITEM])
        return False
    token = new_token()
    redact.register(token)
    client.variables.write(
        path, {TOKEN_ITEM: token}, cas=int((current or {}).get("ModifyIndex", 0))
    )
    return True


def read_token(client: NomadClient, job_id: str) -> str | None:
    """The token, when this user may read it (None when absent)."""
    current = client.variables.read(token_variable_path(job_id))
    token = ((current or {}).get("Items") or {}).get(TOKEN_ITEM)
    if token:
        redact.register(token)
    return token


def forget_token(client: NomadClient, job_id: str) -> None:
    client.variables.delete(token_variable_path(job_id))
