"""``mlctl predict``: ask a deployed model for a prediction."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlctl.cli.main import state
from mlctl.errors import NotFound
from mlctl.output import emit_json


def _read_body(argument: str) -> tuple[str, str]:
    """(text, where it came from) for JSON, @file or @- (stdin)."""
    if argument == "@-":
        return sys.stdin.read(), "stdin"
    if argument.startswith("@"):
        path = Path(argument[1:])
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except FileNotFoundError:
            raise NotFound(f"request file {path} does not exist") from None
    return argument, "the request"


@click.command()
@click.argument("model")
@click.argument("request", metavar="JSON|@FILE")
@click.option("--namespace", metavar="NS", help="Nomad namespace of the model.")
@click.option("--oip", is_flag=True, help="Send an Open Inference Protocol v2 infer request.")
@click.pass_context
def predict(ctx: click.Context, model: str, request: str, namespace: str | None, oip: bool) -> None:
    """Send one request to a healthy replica of MODEL and print the answer.

    The replica is found from Nomad's service registrations of the model (one whose
    checks pass). Without --oip the request goes to the simple /predict endpoint;
    with it, to /v2/models/MODEL/infer. REQUEST is JSON, @file, or @- for stdin.

    A model deployed with Vault answers only callers granted it: predict sends your
    model token (from Vault, with your mlctl login; MLCTL_MODEL_TOKEN wins) and, if the
    model refuses it, asks Vault once for a fresh one. Exit 6: no login, or the token
    was not accepted; 7: not granted (mlctl access grant).

    \b
    Examples:
      mlctl predict iris '{"features": [[5.1, 3.5, 1.4, 0.2]]}'
      mlctl predict iris @request.json
      mlctl predict iris --oip '{"inputs": [{"name": "features", "shape": [1, 4],
          "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}'
      echo '{"features": [[6.7, 3.0, 5.2, 2.3]]}' | mlctl predict iris @-
    """
    from mlctl.deploy.predict import parse_request
    from mlctl.deploy.predict import predict as run
    from mlctl.session import model_token, nomad_client

    settings = state(ctx).settings(nomad_namespace=namespace)
    text, source = _read_body(request)
    body = parse_request(text, source)

    def tokens(fresh: bool) -> str | None:
        return model_token(settings, fresh=fresh)

    answer = run(nomad_client(settings), model, body, oip, tokens)
    emit_json(answer)
