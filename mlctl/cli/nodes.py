"""``mlctl nodes``: the cluster's client nodes and their GPUs."""

from __future__ import annotations

from typing import Any

import click

from mlctl.cli.main import state
from mlctl.output import emit

COLUMNS = {
    "node": "NODE",
    "status": "STATUS",
    "eligibility": "ELIGIBILITY",
    "datacenter": "DC",
    "pool": "POOL",
    "class": "CLASS",
    "allocs": "ALLOCS",
    "gpu_summary": "GPUS",
}


@click.command()
@click.pass_context
def nodes(ctx: click.Context) -> None:
    """List client nodes with their GPUs: model, memory, healthy, allocated and free.

    Allocated GPUs are the device instances held by live allocations on the node,
    whatever their namespace (as far as your token may read them).

    \b
    Examples:
      mlctl nodes
      mlctl -o json nodes | jq '.[] | {node, gpus}'
    """
    from mlctl.deploy.inventory import gpu_summary, node_row
    from mlctl.session import nomad_client

    settings = state(ctx).settings()
    client = nomad_client(settings)
    rows: list[dict[str, Any]] = []
    for node in sorted(client.nodes.list_nodes(), key=lambda n: n.get("Name", "")):
        full = client.nodes.read(node["ID"])
        row = node_row(full, client.nodes.allocations(node["ID"]))
        rows.append(
            row
            if settings.output == "json"
            else {**row, "gpu_summary": gpu_summary(row["gpus"]) or None}
        )
    emit(rows, settings.output, columns=COLUMNS, empty="no client nodes")
