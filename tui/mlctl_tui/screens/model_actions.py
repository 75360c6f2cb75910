"""The actions on models, shared by the Models and Model detail screens.

Each one prepares a :class:`~mlctl_tui.services.actions.Prepared` action — reading
first what it needs (the start target, the versions) on a worker thread — and hands it
to the app, which confirms and executes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlctl.monitor.views import AllocView, ModelView
from mlctl_tui.core import plans
from mlctl_tui.core.formatting import short_id
from mlctl_tui.services.actions import Prepared

if TYPE_CHECKING:
    from mlctl_tui.app import MlctlApp

#: Model actions and the Abilities name that governs each.
MODEL_ACTIONS = {
    "start": "start",
    "stop": "stop",
    "scale": "scale",
    "restart": "restart",
    "promote": "promote",
    "rollback": "rollback",
    "logs": "logs",
}


def target(model: ModelView, **extra: str) -> dict[str, str]:
    return {"namespace": model.namespace, "model": model.name, "job": model.job_id, **extra}


def scheduled_count(app: MlctlApp, model: ModelView) -> int | None:
    from mlctl.schedule.view import state

    doc = app.view.schedule_of(model)
    if doc is None or doc.paused:
        return None
    return state(doc, app.view.now).scheduled


def scale(app: MlctlApp, model: ModelView) -> None:
    from mlctl_tui.screens.modals import NumberPrompt

    def chosen(count: int | None) -> None:
        if count is None:
            return
        plan = plans.scale(model, count, scheduled_count(app, model))
        backend = app.backend
        app.confirm_and_run(
            Prepared(
                plan,
                target(model, count=str(count)),
                lambda: backend.scale(model.namespace, model.name, count),
            ),
            after=app.load_schedules,
        )

    app.push_screen(
        NumberPrompt(
            f"Scale {model.name}",
            f"Replicas for {model.name} in {model.namespace} (now {model.desired}):",
            model.desired,
            0,
            1000,
        ),
        chosen,
    )


def start(app: MlctlApp, model: ModelView) -> None:
    backend = app.backend

    def ready(found: tuple[int, str]) -> None:
        count, source = found
        plan = plans.start(model, count, source)
        app.confirm_and_run(
            Prepared(
                plan,
                target(model, count=str(count)),
                lambda: backend.start(model.namespace, model.name, count),
            ),
            after=app.load_schedules,
        )

    app.prepare(
        lambda: backend.start_target(model.namespace, model.name),
        ready,
        f"find how many replicas to start {model.name} with",
    )


def stop(app: MlctlApp, model: ModelView) -> None:
    backend = app.backend
    plan = plans.stop(model, scheduled=app.view.schedule_of(model) is not None)
    app.confirm_and_run(
        Prepared(plan, target(model), lambda: backend.stop(model.namespace, model.name))
    )


def restart_models(app: MlctlApp, models: Sequence[ModelView]) -> None:
    running = [(m, [a for a in m.allocations if a.running]) for m in models]
    running = [(m, allocs) for m, allocs in running if allocs]
    if not running:
        app.notify("no running allocations to restart", severity="warning")
        return
    backend = app.backend
    plan = plans.restart(running)

    def call() -> str:
        return "; ".join(backend.restart_model(m.namespace, m.name) for m, _ in running)

    names = ",".join(m.name for m, _ in running)
    app.confirm_and_run(Prepared(plan, {"models": names}, call))


def restart_allocs(app: MlctlApp, model: ModelView, allocs: Sequence[AllocView]) -> None:
    running = [a for a in allocs if a.running]
    if not running:
        app.notify("none of the chosen allocations is running", severity="warning")
        return
    backend = app.backend
    plan = plans.restart([(model, running)])
    ids = [a.id for a in running]
    app.confirm_and_run(
        Prepared(
            plan,
            target(model, allocs=",".join(short_id(i) for i in ids)),
            lambda: backend.restart_allocs(model.namespace, ids),
        )
    )


def stop_alloc(app: MlctlApp, model: ModelView, alloc: AllocView) -> None:
    backend = app.backend
    plan = plans.stop_alloc(model, alloc)
    app.confirm_and_run(
        Prepared(
            plan,
            target(model, alloc=alloc.id),
            lambda: backend.stop_alloc(alloc.namespace, alloc.id),
        )
    )


def promote(app: MlctlApp, model: ModelView) -> None:
    backend = app.backend
    app.confirm_and_run(
        Prepared(
            plans.promote(model),
            target(model),
            lambda: backend.promote(model.namespace, model.name),
        )
    )


def rollback(app: MlctlApp, model: ModelView) -> None:
    from mlctl_tui.screens.modals import ChoiceModal

    backend = app.backend

    def versions(history: list[dict[str, Any]]) -> None:
        current = next((v for v in history if v.get("current")), None)
        choices = [v for v in history if not v.get("current")]
        if current is None or not choices:
            app.show_error(
                f"Cannot roll back {model.name}",
                "Nomad retains no other version of this job to go back to.",
            )
            return
        options = [(str(v["version"]), version_label(v)) for v in choices]
        stable = next((str(v["version"]) for v in choices if v.get("stable")), None)

        def chosen(value: str | None) -> None:
            if value is None:
                return
            wanted = next(v for v in choices if str(v["version"]) == value)
            number = int(wanted["version"])
            plan = plans.rollback(model, current, wanted)
            app.confirm_and_run(
                Prepared(
                    plan,
                    target(model, version=str(number)),
                    lambda: backend.rollback(model.namespace, model.name, number),
                )
            )

        app.push_screen(
            ChoiceModal(
                f"Roll back {model.name} to which version?",
                options,
                stable,
                note=f"Now at {version_label(current)}.",
            ),
            chosen,
        )

    app.prepare(
        lambda: backend.history(model.namespace, model.name),
        versions,
        f"read the versions of {model.name}",
    )


def version_label(item: dict[str, Any]) -> str:
    parts = [f"v{item.get('version')}", str(item.get("model_version") or "")]
    if item.get("bundle_sha256"):
        parts.append(str(item["bundle_sha256"])[:12])
    if item.get("deployed_by"):
        parts.append(f"by {item['deployed_by']}")
    if item.get("submitted"):
        parts.append(str(item["submitted"]))
    if item.get("stable"):
        parts.append("stable")
    return "  ".join(p for p in parts if p)


def open_logs(app: MlctlApp, model: ModelView, allocs: Sequence[AllocView] | None = None) -> None:
    from mlctl_tui.screens.logs import LogsScreen

    chosen = list(allocs) if allocs else [a for a in model.allocations if a.live]
    if not chosen:
        chosen = sorted(model.allocations, key=lambda a: a.create_index)[-1:]
    if not chosen:
        app.notify(f"{model.name} has no allocations yet", severity="warning")
        return
    app.push_screen(LogsScreen(model, chosen))


def awaiting_promotion(model: ModelView) -> bool:
    deployment = model.deployment
    return bool(
        deployment and deployment.canaries_desired and not deployment.promoted and deployment.active
    )
