"""``mlctl serve``: run a bundle's model server locally, or answer one request and stop."""

from __future__ import annotations

from pathlib import Path

import click

from mlctl.deploy import auth as auth_env
from mlctl.output import emit_json


@click.command()
@click.argument("bundle", required=False, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: serving.port, 8080).")
@click.option("--workers", type=click.IntRange(1, 64), help="Server processes (default 1).")
@click.option(
    "--max-batch-size",
    type=click.IntRange(1, 4096),
    help="Most requests joined into one batch (default 32).",
)
@click.option(
    "--max-batch-rows",
    type=click.IntRange(1, 1_048_576),
    help="Most rows in one predict call; a larger request runs alone (default 2048).",
)
@click.option(
    "--max-batch-wait-ms",
    type=click.FloatRange(0, 1000),
    help="Extra wait for a fuller batch while the model is busy (0 = none).",
)
@click.option("--max-body-bytes", type=click.IntRange(1024), help="Largest request body accepted.")
@click.option(
    "--max-response-bytes", type=click.IntRange(1024), help="Largest response the server builds."
)
@click.option(
    "--inference-timeout",
    type=click.FloatRange(0, 3600, min_open=True),
    metavar="SECONDS",
    help="Answer 504 when the model has not answered by then (default 30).",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(1, 3600),
    metavar="SECONDS",
    help="On SIGTERM, how long in-flight requests may take (default 25).",
)
@click.option("--no-access-log", is_flag=True, help="Do not write a JSON access line per request.")
@click.option(
    "--auth",
    "auth_mode",
    type=click.Choice(["none", "jwt"]),
    envvar=auth_env.ENV_MODE,
    help="Who may call: anyone (none), or bearers of a granted JWT "
    "(default: serving.auth.mode, else none).",
)
@click.option(
    "--auth-issuer",
    metavar="URL",
    envvar=auth_env.ENV_ISSUER,
    help="jwt: the iss tokens must carry, e.g. https://vault:8200/v1/identity/oidc.",
)
@click.option(
    "--auth-jwks-url",
    metavar="URL",
    envvar=auth_env.ENV_JWKS_URL,
    help="jwt: the issuer's signing keys, e.g. "
    "https://vault:8200/v1/identity/oidc/.well-known/keys.",
)
@click.option(
    "--auth-audience",
    metavar="AUD",
    envvar=auth_env.ENV_AUDIENCE,
    help="jwt: the aud tokens must carry (default: serving.auth.audience, mlctl-models).",
)
@click.option(
    "--auth-namespace",
    metavar="NS",
    envvar=auth_env.ENV_NAMESPACE,
    help="jwt: the Nomad namespace this model is granted in (default: default).",
)
@click.option(
    "--auth-jwks-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="MLCTL_AUTH_JWKS_CA",
    help="jwt: CA bundle (PEM) that verifies the key URL's TLS certificate.",
)
@click.option("--auth-jwks-ca-pem", envvar=auth_env.ENV_JWKS_CA_PEM, hidden=True)
@click.option(
    "--once",
    "once_payload",
    metavar="JSON",
    help="Start, POST JSON to /predict over HTTP, print the answer, stop.",
)
def serve(
    bundle: Path | None,
    host: str,
    port: int | None,
    workers: int | None,
    max_batch_size: int | None,
    max_batch_rows: int | None,
    max_batch_wait_ms: float | None,
    max_body_bytes: int | None,
    max_response_bytes: int | None,
    inference_timeout: float | None,
    drain_timeout: float | None,
    no_access_log: bool,
    auth_mode: str | None,
    auth_issuer: str | None,
    auth_jwks_url: str | None,
    auth_audience: str | None,
    auth_namespace: str | None,
    auth_jwks_ca: Path | None,
    auth_jwks_ca_pem: str | None,
    once_payload: str | None,
) -> None:
    """Serve a model bundle (a directory or its .tar.gz) over HTTP.

    Open Inference Protocol v2 under /v2, the simple JSON API (/predict, /preprocess,
    /postprocess), /healthz, /readyz and Prometheus /metrics. Without BUNDLE, serves the
    shipped iris example. Flags override the bundle's `serving` section. SIGTERM drains
    in-flight requests and exits 0. Exit statuses: 3 --auth jwt without issuer or key
    URL, 4 the model failed to load (or --once was refused), 9 the port is in use, 13
    --once timed out, 15 an unsafe model file.

    With --auth jwt (or serving.auth.mode: jwt) the model routes and OIP model routes
    need `Authorization: Bearer <token>` from the issuer, granting NAMESPACE/MODEL (see
    mlctl access); health and readiness stay open. In a Nomad job, mlctl deploy sets
    these through MLCTL_AUTH_* variables. Without it anyone may call; the server says
    which at start.

    \b
    Examples:
      mlctl serve --once '{"features": [[5.1, 3.5, 1.4, 0.2]]}'
      mlctl serve examples/iris --port 8080
      mlctl serve build/iris-1.0.0.tar.gz --host 0.0.0.0 --workers 2
      mlctl serve examples/iris --inference-timeout 5 --max-batch-rows 512
      curl -s localhost:8080/predict -d '{"features": [[6.7, 3.0, 5.2, 2.3]]}'
      mlctl serve examples/iris --auth jwt --auth-namespace team-a \\
          --auth-issuer "$VAULT_ADDR/v1/identity/oidc" \\
          --auth-jwks-url "$VAULT_ADDR/v1/identity/oidc/.well-known/keys"
      curl -s localhost:8080/predict -H @<(mlctl access token --header) \\
          -d '{"features": [[6.7, 3.0, 5.2, 2.3]]}'
    """
    from mlctl.bundle.schema import AuthMode
    from mlctl.serve.options import ServeOptions
    from mlctl.serve.source import opened_bundle

    with opened_bundle(bundle) as bundle_dir:
        options = ServeOptions(
            bundle_dir=bundle_dir,
            host=host,
            port=port,
            workers=workers,
            max_batch_size=max_batch_size,
            max_batch_rows=max_batch_rows,
            max_batch_wait_ms=max_batch_wait_ms,
            max_body_bytes=max_body_bytes,
            max_response_bytes=max_response_bytes,
            inference_timeout_s=inference_timeout,
            drain_timeout_s=drain_timeout,
            auth_mode=AuthMode(auth_mode) if auth_mode else None,
            auth_issuer=auth_issuer,
            auth_audience=auth_audience,
            auth_jwks_url=auth_jwks_url,
            auth_jwks_ca_pem=_ca_pem(auth_jwks_ca) or auth_jwks_ca_pem,
            auth_namespace=auth_namespace,
            # --once prints only the answer; errors are still logged.
            access_log=not no_access_log and once_payload is None,
        )
        if once_payload is not None:
            from mlctl.serve.once import serve_once

            emit_json(serve_once(options, once_payload))
            return
        from mlctl.serve.server import serve as run_server

        run_server(options)


def _ca_pem(path: Path | None) -> str | None:
    """The CA file's text (workers get the options pickled, not the file)."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        from mlctl.errors import ConfigError

        raise ConfigError(f"--auth-jwks-ca {path}: cannot be read: {exc}") from None
