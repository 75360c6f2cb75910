"""``mlctl monitor run`` and ``mlctl monitor deploy``: the monitor loop."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlctl.cli.main import state
from mlctl.output import emit, note

if TYPE_CHECKING:
    from mlctl.monitor.config import MonitorConfig
    from mlctl.monitor.deploy import MonitorJob
    from mlctl.nomad.client import NomadClient
    from mlctl.settings import Settings

CONFIG = click.Path(exists=False, dir_okay=False, path_type=Path)


@click.group()
def monitor() -> None:
    """Watch every model and node: alerts, notifications, actions, schedules.

    \b
    Examples:
      mlctl monitor run --webhook https://hooks.example/alerts
      mlctl monitor run --config monitor.yaml --alertmanager http://alertmanager:9093
      mlctl monitor deploy --config monitor.yaml
    """


def _require_monitor_extra() -> None:
    """The monitor's own packages (small, but not in the core client)."""
    import importlib

    from mlctl.errors import ConfigError

    for module in ("prometheus_client", "orjson"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError(
                f"mlctl monitor run needs the 'monitor' extra: Python module {module} is not "
                "installed",
                hint="pip install 'mlctl[monitor]'",
                title="missing extra",
            ) from None


def _load_config(path: Path | None) -> MonitorConfig:
    from mlctl.monitor.config import MonitorConfig, load

    return load(path) if path else MonitorConfig()


def _listen(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(f"{value!r}: use HOST:PORT, e.g. 127.0.0.1:9464")
    return host, int(port)


@monitor.command("run")
@click.option("--config", "config_path", type=CONFIG, help="Monitor config file (YAML).")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL",
              help="Send Alertmanager-format webhooks here (repeatable).")  # fmt: skip
@click.option("--slack", metavar="ENV",
              help="Name of the environment variable holding a Slack webhook URL.")  # fmt: skip
@click.option("--alertmanager", "alertmanagers", multiple=True, metavar="URL",
              help="Push alerts to this Alertmanager (repeatable).")  # fmt: skip
@click.option("--email-to", "email_to", multiple=True, metavar="ADDR",
              help="Email alerts here; SMTP from MLCTL_SMTP_* (repeatable).")  # fmt: skip
@click.option("--event-log", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="JSONL event log [default: $MLCTL_STATE_DIR/monitor/events.jsonl].")  # fmt: skip
@click.option("--listen", metavar="HOST:PORT", help="Serve GET /healthz here (for Nomad).")
@click.pass_context
def run(
    ctx: click.Context,
    config_path: Path | None,
    webhooks: tuple[str, ...],
    slack: str | None,
    alertmanagers: tuple[str, ...],
    email_to: tuple[str, ...],
    event_log: Path | None,
    listen: str | None,
) -> None:
    """Run the monitor in the foreground until Ctrl-C or SIGTERM.

    It follows Nomad's event stream (resyncing from REST on every reconnect), probes
    every model endpoint, evaluates the health rules, sends alerts to the receivers of
    the config (plus the flags'), takes the actions models opted into, and prints a live
    log of alerts, notifications and actions (JSON lines with -o json). Alerts and recent
    events are published to Nomad Variables for mlctl alerts / mlctl events.

    \b
    Examples:
      mlctl monitor run --webhook https://hooks.example/alerts
      SLACK_WEBHOOK_URL=... mlctl monitor run --slack SLACK_WEBHOOK_URL
      MLCTL_SMTP_HOST=smtp.example.com:587 MLCTL_SMTP_USER=mlctl MLCTL_SMTP_PASSWORD=... \\
        mlctl monitor run --email-to ops@example.com
      mlctl monitor run --config monitor.yaml --alertmanager http://127.0.0.1:9093
      mlctl -o json monitor run --event-log /var/log/mlctl/events.jsonl
    """
    _require_monitor_extra()
    from mlctl import session
    from mlctl.monitor import eventlog, livelog
    from mlctl.monitor.setup import with_flags

    settings = state(ctx).settings()
    address = _listen(listen)
    env = dict(os.environ)  # receivers name the variables that hold their secrets
    config = with_flags(
        _load_config(config_path),
        webhooks=webhooks,
        slack=slack,
        email_to=email_to,
        alertmanagers=alertmanagers,
        event_log=event_log,
        env=env,
    )
    log_path = config.event_log or eventlog.default_path(settings.state_dir)
    events = eventlog.EventLog(log_path)
    if settings.output == "json":
        events.add_listener(_json_line)
    else:
        events.add_listener(lambda record: click.echo(livelog.line(record)))
    monitor_ = session.monitor(settings, config, env=env, event_log=events)
    from mlctl.schedule.monitoring import attach as attach_schedules

    attach_schedules(monitor_, interval=config.intervals.schedules)
    health = None
    if address is not None:
        from mlctl.monitor.health import HealthServer

        health = HealthServer(*address, monitor_.status, lambda: monitor_.last_pass,
                              stale_after=max(60.0, 6 * config.intervals.rules))  # fmt: skip
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        monitor_.start()
        if health is not None:
            health.start()
        note(
            f"mlctl monitor: following {settings.nomad_addr}; event log {log_path}; "
            f"{sum(len(v) for v in monitor_.receivers.values()) + len(monitor_.alertmanagers)}"
            " receivers; Ctrl-C to stop"
        )
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        monitor_.stop()
        if health is not None:
            health.stop()
        note("mlctl monitor: stopped")


@monitor.command("status")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Monitor config (state_namespace, leader.path).")  # fmt: skip
@click.pass_context
def status(ctx: click.Context, config_path: Path | None) -> None:
    """Show which monitor leads (acts) and since when.

    Monitors compete for a lock on a Nomad Variable (leader.path, default
    mlctl/monitor/leader); only the holder notifies, acts, reconciles schedules and
    publishes. Whether the lock is still held is visible to management tokens only;
    others see the holder's name and since-when, or who released it.

    \b
    Examples:
      mlctl monitor status
      mlctl monitor status --config monitor.yaml
      mlctl -o json monitor status
    """
    from mlctl.monitor.leadership import leader_status
    from mlctl.session import nomad_client

    settings = state(ctx).settings()
    config = _load_config(config_path)
    client = nomad_client(settings)
    variable = client.variables.read(config.leader.path, namespace=config.state_namespace)
    found = leader_status(dict(variable) if variable is not None else None, config.leader.path)
    if not config.leader.enabled:
        found["note"] = "leader election is disabled in this config (leader.enabled: false)"
    emit(found, settings.output)


def _json_line(record: dict[str, Any]) -> None:
    """One event as one JSON line (the record is already scrubbed of secrets)."""
    import json

    click.echo(json.dumps(record, separators=(",", ":"), default=str))


def _credential_mode(choice: str, settings: Settings) -> str:
    if choice != "auto":
        return choice
    return "approle" if settings.vault_configured else "nomad-token"


def _store_monitor_token(client: NomadClient, settings: Settings, job: MonitorJob) -> None:
    from mlctl.access.monitor_token import ensure_monitor_token
    from mlctl.errors import PermissionDenied
    from mlctl.monitor.deploy import credentials_variable_path
    from mlctl.session import nomad_client_with_token

    try:
        stored = ensure_monitor_token(
            client,
            lambda token: nomad_client_with_token(settings, token),
            credentials_variable_path(job.job_id),
            job.namespace,
        )
    except PermissionDenied as error:
        raise PermissionDenied(
            f"cannot make the monitor's Nomad token: {error.message}",
            hint="this needs a Nomad management token (NOMAD_TOKEN); or give the monitor an "
            "AppRole: mlctl vault monitor-credentials, then --credentials approle",
        ) from error
    if stored.policy is None:
        note("mlctl monitor: this Nomad runs without ACLs; the monitor needs no token")
    elif stored.created:
        note(
            f"mlctl monitor: created a Nomad token with policy {stored.policy} and stored it in "
            f"Variable {stored.variable} (namespace {stored.namespace}), readable only by the job"
        )


@monitor.command("deploy")
@click.option("--config", "config_path", type=CONFIG, help="Monitor config file to ship.")
@click.option("--namespace", metavar="NS", help="Namespace to run in [default: -n / default].")
@click.option("--image", metavar="IMAGE", help="Image with mlctl [default: MLCTL_RUNTIME_IMAGE].")
@click.option("--task-nomad-addr", metavar="URL",
              help="Nomad address as the task sees it [default: the one mlctl uses].")  # fmt: skip
@click.option("--task-vault-addr", metavar="URL",
              help="Vault address as the task sees it [default: the one mlctl uses].")  # fmt: skip
@click.option("--credentials", type=click.Choice(["auto", "approle", "nomad-token"]),
              default="auto", show_default=True,
              help="approle: its Vault AppRole (mlctl vault monitor-credentials first); "
              "nomad-token: a Nomad token this command creates for it; auto: approle when "
              "a Vault address is configured, else nomad-token.")  # fmt: skip
@click.option("--render", is_flag=True, help="Print the job's HCL and stop.")
@click.option("--detach", is_flag=True, help="Return once Nomad accepted the job.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True,
              help="Seconds to watch the rollout.")  # fmt: skip
@click.pass_context
def deploy(
    ctx: click.Context,
    config_path: Path | None,
    namespace: str | None,
    image: str | None,
    task_nomad_addr: str | None,
    task_vault_addr: str | None,
    credentials: str,
    render: bool,
    detach: bool,
    timeout: float,
) -> None:
    """Run the monitor itself on Nomad: a service job (count 1) with a health check,
    under its own least-privilege identity (AppRole mlctl-monitor, Nomad policy
    mlctl-monitor). With Vault, give it its credentials first, without ever seeing
    them: mlctl vault monitor-credentials. Without Vault (mlctl local, a cluster
    without Vault) this command creates a Nomad token with policy mlctl-monitor (your
    token must be a management token) and stores it where only the job can read it.

    \b
    Examples:
      mlctl vault monitor-credentials && mlctl monitor deploy --config monitor.yaml
      mlctl monitor deploy --render > monitor.nomad.hcl
      mlctl local up && mlctl monitor deploy      # on one machine, no Vault
      mlctl monitor deploy --namespace ops --image registry.example/mlctl:0.1.0-cpu
    """
    from mlctl.deploy.outcome import Outcome
    from mlctl.deploy.watch import follow
    from mlctl.errors import DeploymentFailed, DeploymentReverted, Timeout
    from mlctl.monitor.deploy import MonitorJob, render_monitor_job
    from mlctl.session import nomad_client

    settings = state(ctx).settings(**({"nomad_namespace": namespace} if namespace else {}))
    job = MonitorJob(
        namespace=settings.nomad_namespace,
        datacenters=settings.datacenters,
        image=image or settings.runtime_image,
        nomad_addr=task_nomad_addr or settings.nomad_addr,
        vault_addr=task_vault_addr or settings.vault_addr,
        config=_load_config(config_path),
        task_driver=settings.task_driver,
        python=settings.raw_exec_python or sys.executable,
        credentials=_credential_mode(credentials, settings),
        check_interval=settings.check_interval,
        min_healthy_time=settings.min_healthy_time,
    )
    hcl = render_monitor_job(job)
    if render:
        click.echo(hcl, nl=False)
        return
    client = nomad_client(settings)
    if job.credentials == "nomad-token":
        _store_monitor_token(client, settings, job)
    parsed = client.jobs.parse(hcl)
    answer = client.jobs.register(parsed)
    version = int(client.jobs.read(job.job_id).get("Version") or 0)
    result: dict[str, Any] = {
        "job_id": job.job_id,
        "namespace": job.namespace,
        "version": version,
        "eval_id": answer.get("EvalID"),
    }
    if not detach:
        note(f"mlctl monitor: registered {job.job_id} version {version}; watching the rollout")
        watched = follow(client, job.job_id, version, timeout)
        result.update(outcome=str(watched.outcome), failures=[f.text for f in watched.failures])
        emit(result, settings.output)
        if watched.outcome is Outcome.FAILED:
            raise DeploymentFailed(f"the monitor job failed to start: {watched.failures}")
        if watched.outcome is Outcome.REVERTED:
            raise DeploymentReverted("the monitor job failed and Nomad reverted it")
        if watched.outcome is Outcome.TIMED_OUT:
            raise Timeout(f"the monitor job was not healthy within {timeout:g}s")
        return
    emit(result, settings.output)
