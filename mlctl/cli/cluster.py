"""``mlctl cluster``: provision nodes with Ansible, write inventories, run the Vagrant lab."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from mlctl.cli.main import report, state
from mlctl.cli.prompts import confirm
from mlctl.errors import ExitStatus, InvalidInput, NotFound, ProvisionFailed
from mlctl.output import emit, emit_json, emit_table, note

_SECRET_KEY = re.compile(r"pass|token|secret|key", re.IGNORECASE)
DEFAULT_PLAYBOOK = "site.yml"


@click.group()
def cluster() -> None:
    """Provision a Nomad GPU cluster with Ansible and run a local one with Vagrant.

    \b
    Examples:
      mlctl cluster inventory hosts.yaml --out inventory.yml
      mlctl cluster provision -i inventory.yml
      mlctl cluster provision -i inventory.yml --limit gpu_clients --check --diff
      mlctl cluster up --clients 2 && mlctl cluster status
      mlctl cluster context -i inventory.yml --name prod
    """


# --- provision -----------------------------------------------------------------------


def parse_extra_vars(values: tuple[str, ...]) -> tuple[dict[str, str], tuple[Path, ...]]:
    """Split ``-e`` values into KEY=VALUE pairs and @FILE references (values stay strings)."""
    from mlctl import redact

    pairs: dict[str, str] = {}
    files: list[Path] = []
    for value in values:
        if value.startswith("@"):
            files.append(Path(value[1:]).expanduser())
            continue
        key, sep, raw = value.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            shown = key if _SECRET_KEY.search(key) else value
            raise InvalidInput(
                f"-e {shown!r}: expected KEY=VALUE or @FILE",
                hint="KEY is an Ansible variable name, e.g. -e nomad_version=1.9.7",
            )
        if _SECRET_KEY.search(key):
            redact.register(raw)
        pairs[key] = raw
    return pairs, tuple(files)


def require_ansible() -> None:
    """Fail before any output when the provision extra is missing (one line, status 3)."""
    import ansible_runner  # noqa: F401  (the import is the check)


def _playbook(name: str) -> Path:
    """A playbook by name in the shipped playbooks/ folder, or any path to one."""
    from mlctl.paths import data_dir

    candidate = Path(name).expanduser()
    if candidate.is_file():
        return candidate
    shipped = data_dir("playbooks") / name
    if shipped.is_file():
        return shipped
    raise NotFound(f"{name}: no such playbook", hint=f"playbooks ship in {data_dir('playbooks')}")


@cluster.command()
@click.option(
    "-i",
    "--inventory",
    required=True,
    type=click.Path(path_type=Path),
    help="Ansible inventory (any format; see `mlctl cluster inventory`).",
)
@click.option("-l", "--limit", metavar="PATTERN", help="Only these hosts or groups.")
@click.option("-t", "--tags", metavar="TAGS", help="Only tasks with these tags.")
@click.option("--skip-tags", metavar="TAGS", help="Skip tasks with these tags.")
@click.option("-C", "--check", is_flag=True, help="Dry run: report what would change.")
@click.option("-D", "--diff", is_flag=True, help="Show file differences in the log.")
@click.option(
    "-e",
    "--extra-vars",
    "extra",
    multiple=True,
    metavar="KEY=VALUE|@FILE",
    help="Set a variable (repeatable). Secrets: prefer @FILE; values are never put on a "
    "command line.",
)
@click.option("--forks", type=click.IntRange(1, 200), help="Hosts worked on in parallel.")
@click.option(
    "--playbook",
    default=DEFAULT_PLAYBOOK,
    show_default=True,
    help="Playbook from mlctl's playbooks/ folder, or a path.",
)
@click.pass_context
def provision(
    ctx: click.Context,
    inventory: Path,
    limit: str | None,
    tags: str | None,
    skip_tags: str | None,
    check: bool,
    diff: bool,
    extra: tuple[str, ...],
    forks: int | None,
    playbook: str,
) -> None:
    """Run playbooks/site.yml against INVENTORY with live progress, then a summary.

    Hosts are set up by their groups: nomad_servers, nomad_clients, gpu_clients,
    vault_servers, artifact_store. The full Ansible log of every run is kept under
    the state dir (~/.local/state/mlctl/provision/); a failure names the host, the
    task, Ansible's message and the log file. Exit status 14 when any host failed or
    was unreachable.

    \b
    Examples:
      mlctl cluster provision -i inventory.yml
      mlctl cluster provision -i inventory.yml --limit gpu_clients --tags nvidia
      mlctl cluster provision -i inventory.yml --check --diff
      mlctl cluster provision -i inventory.yml -e nomad_version=1.9.7 -e @secrets.yml
      mlctl -o json cluster provision -i inventory.yml
    """
    from mlctl.provision.display import Progress
    from mlctl.provision.runner import RunRequest, run_playbook

    require_ansible()
    settings = state(ctx).settings()
    pairs, files = parse_extra_vars(extra)
    request = RunRequest(
        playbook=_playbook(playbook),
        inventory=inventory,
        limit=limit,
        tags=tags,
        skip_tags=skip_tags,
        check=check,
        diff=diff,
        extravars=pairs,
        extravar_files=files,
        forks=forks,
    )
    mode = " (check mode)" if check else ""
    note(f"provisioning {inventory} with {request.playbook.name}{mode}")
    with Progress() as progress:
        result = run_playbook(request, settings.state_dir / "provision", progress.update)
    _report(ctx, result, request, settings.output)


def _report(ctx: click.Context, result: Any, request: Any, output: str) -> None:
    """Print the summary; on failure say what failed and where the log is, exit 14.

    Each distinct failure's message is printed exactly once: on the error line when
    there is one, else one line per failure before an error line naming the hosts.
    (The progress log only marks failures as they happen, without the message.)
    """
    from mlctl.provision.display import SUMMARY_COLUMNS, summary_rows

    run_state = result.state
    failures = list(dict.fromkeys(run_state.failures))  # one per host, task and message
    if not result.ok and not failures:
        failures = [_failure_from_log(result.log, request)]
    summary = {
        "status": "ok" if result.ok else "failed",
        "playbook": str(request.playbook),
        "inventory": str(request.inventory),
        "check": request.check,
        "changed": run_state.changed,
        "hosts": summary_rows(run_state),
        "failures": [f.to_dict() for f in failures],
        "log": str(result.log),
        "run_id": result.ident,
        "seconds": round(result.seconds, 1),
    }
    if output == "json":
        emit_json(summary)
    else:
        emit_table(summary["hosts"], SUMMARY_COLUMNS, empty="no hosts matched the inventory")
    if result.ok:
        note(f"done in {result.seconds:.0f}s, {run_state.changed} changed; log: {result.log}")
        return
    error = _failure_error(failures, result.log, quiet=output == "json")
    if output == "json":
        report(error, as_json=False)  # the failures are in the JSON summary
        ctx.exit(int(ExitStatus.PROVISION_FAILED))
    raise error


def _failure_error(failures: list[Any], log: Path, *, quiet: bool) -> ProvisionFailed:
    first = failures[0]
    hint = f"full log: {log}"
    if first.host == "-":
        return ProvisionFailed(f"ansible-playbook: {first.message}", hint=hint)
    if len(failures) == 1:
        where = "unreachable" if first.unreachable else f"task {first.task!r}"
        return ProvisionFailed(f"host {first.host}: {where}: {first.message}", hint=hint)
    if not quiet:
        for failure in failures:
            note(f"{failure.host} {_failed_how(failure)}: {failure.message}")
    hosts = len({f.host for f in failures})
    named = ", ".join(f"{f.host} ({_failed_how(f)})" for f in failures)
    return ProvisionFailed(f"{hosts} host(s) failed: {named}", hint=hint)


def _failed_how(failure: Any) -> str:
    return "unreachable" if failure.unreachable else f"failed at {failure.task!r}"


def _failure_from_log(log: Path, request: Any) -> Any:
    """Why a run failed without a failed task: Ansible's first error, or no host matched."""
    from mlctl.provision.events import Failure

    try:
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except OSError:
        lines = []
    errors = [ln for ln in lines if "ERROR" in ln]
    if errors:
        return Failure(host="-", task="", message=errors[0])
    limit = f" and --limit {request.limit}" if request.limit else ""
    return Failure(
        host="-",
        task="",
        message=f"no host of {request.inventory}{limit} is in a group the playbook targets",
    )


# --- inventory -------------------------------------------------------------------------


@cluster.command()
@click.argument("hosts_file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the inventory to this file (default: print it).",
)
@click.pass_context
def inventory(ctx: click.Context, hosts_file: Path, out: Path | None) -> None:
    """Write an Ansible inventory from a short YAML list of hosts and their roles.

    Roles: server (Nomad server), client (Nomad client), gpu (GPU client), vault,
    artifact_store. Each host needs name, address and roles; user, ssh_address,
    port and vars are optional; top-level vars apply to every host.

    \b
    hosts.yaml:
      vars: {nomad_version: "1.9.7"}
      hosts:
        - {name: ctl-1, address: 10.0.0.10, roles: [server, vault, artifact_store], user: debian}
        - {name: gpu-1, address: 10.0.0.21, roles: [gpu], user: debian}
    \b
    Examples:
      mlctl cluster inventory hosts.yaml --out inventory.yml
      mlctl cluster inventory hosts.yaml | less
      mlctl cluster inventory hosts.yaml -o json | jq '.all.children.gpu_clients'
    """
    from mlctl.inventory import build_inventory, inventory_yaml, read_hosts_file, write_atomically

    as_json = state(ctx).settings().output == "json"
    spec = read_hosts_file(hosts_file)
    text = inventory_yaml(spec, str(hosts_file))
    if out is None:
        if as_json:
            emit_json(build_inventory(spec))  # Ansible reads JSON inventories as well
        else:
            click.echo(text, nl=False)
        return
    write_atomically(out, text)
    if as_json:
        emit_json({"path": str(out), "hosts": [host.name for host in spec.hosts]})
    note(f"wrote {out} ({len(spec.hosts)} hosts); provision with: mlctl cluster provision -i {out}")


# --- context -----------------------------------------------------------------------------


@cluster.command("context")
@click.option(
    "-i",
    "--inventory",
    "inventory_path",
    type=click.Path(path_type=Path),
    help="Inventory of the cluster (default: the one Vagrant generated for the lab).",
)
@click.option("--name", help="Context name [default: vagrant, or the inventory's file name].")
@click.option("--dir", "vagrant_dir", type=click.Path(path_type=Path), help="Vagrantfile folder.")
@click.option("--no-use", is_flag=True, help="Save the context without making it current.")
@click.pass_context
def context_command(
    ctx: click.Context,
    inventory_path: Path | None,
    name: str | None,
    vagrant_dir: Path | None,
    no_use: bool,
) -> None:
    """Point mlctl at a provisioned cluster: save a context from its inventory.

    The context holds the Nomad, Vault and artifact store addresses the roles
    configured (first host of nomad_servers, vault_servers, artifact_store).

    \b
    Examples:
      mlctl cluster context                  # the Vagrant lab, after `vagrant up`
      mlctl cluster context -i inventory.yml --name prod
    """
    if inventory_path is None:
        from mlctl.provision import vagrant

        inventory_path = vagrant.find_dir(vagrant_dir) / vagrant.GENERATED_INVENTORY
        if not inventory_path.exists():
            raise NotFound(
                f"{inventory_path}: Vagrant has not provisioned the lab yet",
                hint="run: mlctl cluster up (or pass -i INVENTORY)",
            )
        name = name or "vagrant"
    save_context(ctx, inventory_path, name or inventory_path.stem, make_current=not no_use)


def save_context(ctx: click.Context, inventory_path: Path, name: str, make_current: bool) -> None:
    """Write the context for a cluster and show it."""
    from mlctl.inventory import endpoints, load_inventory
    from mlctl.settings import ContextFile, check_context_name, config_path

    check_context_name(name)
    found = endpoints(load_inventory(inventory_path), str(inventory_path))
    file = ContextFile.read(config_path(state(ctx).flags))
    file.contexts[name] = {**file.contexts.get(name, {}), **found.context_values()}
    if make_current or file.current is None:
        file.current = name
    file.write()
    note(f"context {name} saved to {file.path}" + (" and in use" if file.current == name else ""))
    emit({"context": name, **found.context_values()}, state(ctx).settings().output)
    note(
        "next: `nomad acl bootstrap` once (NOMAD_ADDR above), then mlctl login; uploads need "
        "MLCTL_ARTIFACT_STORE_USER and MLCTL_ARTIFACT_STORE_PASSWORD"
    )


# --- the Vagrant lab ----------------------------------------------------------------------

_DIR_OPTION = click.option(
    "--dir", "vagrant_dir", type=click.Path(path_type=Path), help="Folder with the Vagrantfile."
)


@cluster.command()
@click.option("--clients", type=click.IntRange(1, 20), help="Client VMs [default: 2].")
@click.option("--provider", type=click.Choice(["virtualbox", "libvirt"]), help="Vagrant provider.")
@_DIR_OPTION
@click.pass_context
def up(
    ctx: click.Context, clients: int | None, provider: str | None, vagrant_dir: Path | None
) -> None:
    """Start the local lab (1 server + N clients), provision it, and point mlctl at it.

    \b
    Examples:
      mlctl cluster up
      mlctl cluster up --clients 3 --provider libvirt
    """
    from mlctl.provision import vagrant

    directory = vagrant.find_dir(vagrant_dir)
    args = ["up"] + ([f"--provider={provider}"] if provider else [])
    env = {"MLCTL_CLIENTS": str(clients)} if clients else {}
    vagrant.run(args, directory, env)
    save_context(ctx, directory / vagrant.GENERATED_INVENTORY, "vagrant", make_current=True)


@cluster.command()
@_DIR_OPTION
@click.pass_context
def status(ctx: click.Context, vagrant_dir: Path | None) -> None:
    """Show the lab's VMs and their state.

    \b
    Examples:
      mlctl cluster status
      mlctl -o json cluster status
    """
    from mlctl.provision import vagrant

    rows = vagrant.status(vagrant.find_dir(vagrant_dir))
    columns = {"name": "VM", "state": "STATE", "provider": "PROVIDER"}
    emit(rows, state(ctx).settings().output, columns=columns)


@cluster.command()
@_DIR_OPTION
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def destroy(ctx: click.Context, vagrant_dir: Path | None, yes: bool) -> None:
    """Delete the lab's VMs and their disks.

    \b
    Examples:
      mlctl cluster destroy
      mlctl cluster destroy --yes
    """
    from mlctl.provision import vagrant

    directory = vagrant.find_dir(vagrant_dir)
    confirm(f"destroy every VM of the lab in {directory}?", yes)
    vagrant.run(["destroy", "--force"], directory)
    if state(ctx).settings().output == "json":
        emit_json({"destroyed": True, "dir": str(directory)})
    note("lab destroyed; the `vagrant` context still exists: mlctl context delete vagrant")
