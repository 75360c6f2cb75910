"""``mlctl train``: train candidates as Nomad jobs, keep the best (seed 004).

``mlctl train DATASET --target COL`` is short for ``mlctl train run DATASET --target COL``;
``status``, ``list``, ``logs`` and ``cancel`` look after runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlctl.cli.namespaced import namespace_option as _namespace
from mlctl.cli.namespaced import namespaced_settings as _settings
from mlctl.cli.namespaced import nomad_client as _client
from mlctl.output import emit, emit_json, note

if TYPE_CHECKING:
    from mlctl.settings import Settings

LIST_COLUMNS = {
    "run": "RUN",
    "user": "USER",
    "started": "STARTED",
    "dataset": "DATASET",
    "target": "TARGET",
    "status": "STATUS",
    "best": "BEST",
    "best_cv_score": "CV SCORE",
    "best_holdout_score": "HELD-OUT",
}


class _RunByDefault(click.Group):
    """A group whose first argument, when it is not a subcommand, is run's DATASET."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def train() -> None:
    """Train candidate models as Nomad jobs and package the best as a bundle.

    \b
    Examples:
      mlctl train churn.csv --target churned
      mlctl train house.parquet --target price --task regression --metric mae
      mlctl train wine.csv --target class --candidates lgbm,rf,extra_tree,lr --time-budget 60
      mlctl train list
      mlctl train status 20261130-101500-ab12
    """




def _print_board(rows: list[dict[str, Any]], stream_err: bool = False) -> None:
    from mlctl.output import emit_table
    from mlctl.train import leaderboard as lb

    emit_table(lb.display(rows), lb.COLUMNS, stream=sys.stderr if stream_err else None)


class _LiveBoard:
    """A live table on a terminal; one line per finished trial otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.live: Any = None
        self.reported: set[str] = set()

    def __enter__(self) -> _LiveBoard:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(console=Console(stderr=True), refresh_per_second=2, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, rows: list[dict[str, Any]]) -> None:
        from mlctl.train import leaderboard as lb

        if self.live is not None:
            from rich.table import Table

            table = Table(box=None, header_style="bold")
            for header in lb.COLUMNS.values():
                table.add_column(header)
            for row in lb.display(rows):
                table.add_row(*("" if row.get(k) is None else str(row.get(k)) for k in lb.COLUMNS))
            self.live.update(table)
            return
        for row in rows:
            if row["status"] in lb.FINISHED and row["candidate"] not in self.reported:
                self.reported.add(row["candidate"])
                score = "" if row["cv_score"] is None else f", cv {row['cv_score']:.4f}"
                note(f"trial {row['candidate']}: {row['status']}{score}")


@train.command("run")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", required=True, metavar="COLUMN", help="Column to predict.")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    help="[default: inferred from the target column]",
)
@click.option("--metric", help="accuracy, roc_auc, f1, log_loss, … | r2, mae, mse, rmse.")
@click.option(
    "--candidates",
    default="lgbm,rf,extra_tree,lr",
    show_default=True,
    help="Comma-separated FLAML estimators (lr = the task's linear model).",
)
@click.option(
    "--time-budget",
    "budget",
    type=click.IntRange(5, 86400),
    default=300,
    show_default=True,
    help="Seconds each trial searches (stopped at min(2x, +60s)).",
)
@click.option(
    "--gpus", type=click.IntRange(0, 16), default=0, show_default=True, help="GPUs per trial."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of split and search.")
@click.option(
    "--max-iter",
    type=click.IntRange(min=1),
    help="Configurations per trial: with a budget large enough, reproducible runs.",
)
@click.option("--name", help="Bundle name [default: from the dataset file name].")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Where the best bundle is written.",
)
@click.option(
    "--cpu",
    type=click.IntRange(min=100),
    default=1000,
    show_default=True,
    help="CPU per trial, MHz.",
)
@click.option(
    "--memory",
    type=click.IntRange(min=128),
    default=2048,
    show_default=True,
    help="Memory per trial, MiB.",
)
@click.option(
    "--driver",
    type=click.Choice(["docker", "raw_exec"]),
    help="Task driver [default: raw_exec on mlctl local, else docker].",
)
@click.option(
    "--image", help="Trial image with mlctl[train] (docker driver) [default: mlctl/train:VERSION]."
)
@click.option("--detach", is_flag=True, help="Return once the trials are dispatched.")
@_namespace
@click.pass_context
def run(
    ctx: click.Context,
    /,
    dataset: Path,
    namespace: str | None,
    candidates: str,
    task: str | None,
    detach: bool,
    out: Path,
    name: str | None,
    **flags: Any,
) -> None:
    """Train candidates on DATASET (CSV or Parquet) as Nomad jobs; package the best.

    The dataset is checked (target present, types, size), uploaded content-addressed to
    the artifact store, and every candidate is dispatched as one trial of the run's
    parameterized batch job. A live leaderboard shows cross-validated and held-out
    scores; the best becomes a bundle and the command to deploy it is printed.

    \b
    Examples:
      mlctl train breast_cancer.csv --target target --time-budget 30
      mlctl train wine.csv --target class --candidates lgbm,rf,extra_tree,lr --seed 7
      mlctl -o json train diabetes.csv --target progression --task regression
    """
    from mlctl.artifacts import store_from_settings
    from mlctl.envs.ops import task_driver
    from mlctl.train import run as runs
    from mlctl.train.plan import Task

    settings = _settings(ctx, namespace)
    request = runs.TrainRequest(
        dataset=dataset,
        target=flags["target"],
        task=Task(task) if task else None,
        metric=flags["metric"],
        candidates=tuple(c.strip() for c in candidates.split(",") if c.strip()),
        budget=flags["budget"],
        gpus=flags["gpus"],
        seed=flags["seed"],
        max_iter=flags["max_iter"],
        name=name,
        cpu=flags["cpu"],
        memory=flags["memory"],
        driver=task_driver(settings, flags["driver"]),
        image=flags["image"] or "",
    )
    client = _client(settings)
    current = runs.start(settings, client, request, note)
    note(f"run {current.run_id}: {len(current.trials)} trials dispatched ({current.job_id})")
    if detach:
        payload = {"run": current.run_id, "job": current.job_id, "trials": current.trials}
        if settings.output == "json":
            emit_json(payload)
        else:
            click.echo(
                f"run {current.run_id} started; follow it with: mlctl train status {current.run_id}"
            )
        return
    store = store_from_settings(settings)
    try:
        with _LiveBoard(settings.output != "json") as board:
            runs.watch(client, store, current, board.update)
    except KeyboardInterrupt:
        note(f"stopped watching; the trials go on: mlctl train status {current.run_id}")
        raise
    summary = runs.finish(client, store, current, out, name)
    _report(settings, summary)


def _report(settings: Settings, summary: dict[str, Any]) -> None:
    from mlctl.errors import MlctlError

    if settings.output == "json":
        emit_json(summary)
    else:
        _print_board(summary["leaderboard"])
    if summary["best"] is None:
        raise MlctlError(
            f"run {summary['run']}: no trial succeeded",
            hint=f"mlctl train logs {summary['run']} --candidate C",
        )
    if settings.output != "json":
        best = summary["best"]
        click.echo(
            f"\nbest: {best['candidate']} (cv {best['cv_score']:.4f}, held-out "
            f"{best['holdout_score']:.4f}); bundle at {summary['bundle']}\n"
            f"deploy it with: {summary['deploy']}"
        )


@train.command("status")
@click.argument("run_id", metavar="RUN")
@_namespace
@click.pass_context
def status(ctx: click.Context, run_id: str, namespace: str | None) -> None:
    """Show a run: who, dataset, status and its leaderboard.

    \b
    Examples:
      mlctl train status 20261130-101500-ab12
      mlctl -o json train status 20261130-101500-ab12 | jq '.leaderboard[0]'
    """
    from mlctl.artifacts import store_from_settings
    from mlctl.train import run as runs
    from mlctl.train.plan import check_run_id

    settings = _settings(ctx, namespace)
    detail = runs.status(_client(settings), store_from_settings(settings), check_run_id(run_id))
    if settings.output == "json":
        emit_json(detail)
        return
    click.echo(
        f"run {detail['run']} by {detail.get('user')} at {detail.get('started')}: "
        f"{detail.get('status')}\n"
        f"dataset {detail.get('dataset')} (sha256 {str(detail.get('dataset_sha256'))[:12]}), "
        f"target {detail.get('target')}, {detail.get('task')}, metric {detail.get('metric')}"
    )
    _print_board(detail["leaderboard"])
    if detail.get("bundle"):
        click.echo(f"bundle: {detail['bundle']} (mlctl deploy {detail['bundle']})")


@train.command("list")
@click.option("--all", "everyone", is_flag=True, help="Every user's runs, not only yours.")
@_namespace
@click.pass_context
def list_(ctx: click.Context, everyone: bool, namespace: str | None) -> None:
    """List training runs (yours unless --all): who, when, dataset, best and score.

    \b
    Examples:
      mlctl train list
      mlctl -o json train list --all
    """
    from mlctl.deploy.pipeline import deployed_by
    from mlctl.train import history

    settings = _settings(ctx, namespace)
    me = deployed_by(settings)
    rows = [r for r in history.list_runs(_client(settings)) if everyone or r.get("user") == me]
    if settings.output != "json":
        rows = [{**r, **_rounded(r)} for r in rows]
    emit(rows, settings.output, columns=LIST_COLUMNS, empty="no training runs")


def _rounded(record: dict[str, Any]) -> dict[str, Any]:
    """Scores as 4 decimals for a table (records keep them as text)."""
    out = {}
    for key in ("best_cv_score", "best_holdout_score"):
        try:
            out[key] = f"{float(record[key]):.4f}"
        except (KeyError, TypeError, ValueError):
            continue
    return out


@train.command("logs")
@click.argument("run_id", metavar="RUN")
@click.option("--candidate", required=True, help="Whose trial.")
@click.option("--stderr", "use_stderr", is_flag=True, help="Show stderr instead of stdout.")
@click.option("-f", "--follow", is_flag=True, help="Keep streaming until Ctrl-C.")
@_namespace
@click.pass_context
def logs(
    ctx: click.Context,
    run_id: str,
    candidate: str,
    use_stderr: bool,
    follow: bool,
    namespace: str | None,
) -> None:
    """Show a trial's output.

    \b
    Examples:
      mlctl train logs 20261130-101500-ab12 --candidate lgbm --stderr
    """
    from mlctl.deploy import lifecycle
    from mlctl.errors import NotFound
    from mlctl.train import history
    from mlctl.train.plan import check_run_id

    settings = _settings(ctx, namespace)
    client = _client(settings)
    record = history.read(client, check_run_id(run_id))
    trials = (record or {}).get("trials") or {}
    if candidate not in trials:
        raise NotFound(
            f"run {run_id} has no trial {candidate!r}",
            hint="candidates: " + ", ".join(trials) if trials else "mlctl train list",
        )
    allocs, _ = client.jobs.allocations(trials[candidate])
    alloc = lifecycle.choose_alloc(allocs, None)
    chunks = client.logs.read(
        alloc.get("ID", ""), "trial", "stderr" if use_stderr else "stdout", follow=follow
    )
    try:
        for chunk in chunks:
            click.echo(chunk.decode("utf-8", "replace"), nl=False)
    except KeyboardInterrupt:
        return


@train.command("cancel")
@click.argument("run_id", metavar="RUN")
@_namespace
@click.pass_context
def cancel(ctx: click.Context, run_id: str, namespace: str | None) -> None:
    """Stop a run's unfinished trials.

    \b
    Examples:
      mlctl train cancel 20261130-101500-ab12
    """
    from mlctl.artifacts import store_from_settings
    from mlctl.train import run as runs
    from mlctl.train.plan import check_run_id

    settings = _settings(ctx, namespace)
    result = runs.cancel(_client(settings), store_from_settings(settings), check_run_id(run_id))
    if settings.output == "json":
        emit_json(result)
    else:
        click.echo(f"run {run_id}: cancelled ({len(result['stopped'])} trials stopped)")
