"""Health rules: a snapshot and the time in, the conditions that hold now out (pure).

A :class:`Condition` is an observation ("iris is crash-looping on gpu-1"), not yet an
alert: :class:`mlctl.monitor.alerts.AlertBook` turns conditions that hold for their
``for_seconds`` into firing alerts and resolves alerts whose condition is gone.

Crash loops are judged from task events (``Terminated`` with a non-zero exit or an OOM
kill, ``Driver Failure``) that the Store accumulates per allocation, never from
Nomad's allocation metrics, which are sporadic and reset on garbage collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mlctl.bundle.alerts import Rules
from mlctl.monitor.store import Snapshot
from mlctl.monitor.views import AllocView, ModelView, NodeView

RulesFor = Callable[[ModelView], Rules]


@dataclass(frozen=True)
class Condition:
    alertname: str
    labels: dict[str, str]
    summary: str
    description: str
    for_seconds: float = 0.0
    severity: str = "warning"

    def all_labels(self) -> dict[str, str]:
        return {**self.labels, "alertname": self.alertname, "severity": self.severity}


@dataclass
class Context:
    snapshot: Snapshot
    now: datetime
    rules_for: RulesFor
    extra_labels: Callable[[ModelView], dict[str, str]] = field(default=lambda _m: {})


def _short(alloc_id: str) -> str:
    return alloc_id[:8]


def _model_labels(model: ModelView, ctx: Context) -> dict[str, str]:
    return {
        **ctx.extra_labels(model),
        "model": model.name,
        "namespace": model.namespace,
        "job": model.job_id,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


# ---------------------------------------------------------------------- allocation rules


def crash_loop(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    rule = rules.crash_loop
    since = ctx.now - timedelta(seconds=rule.window)
    out = []
    for alloc in model.live_allocations:
        crashes = [t for t in alloc.crash_times if t >= since]
        if len(crashes) < rule.restarts:
            continue
        last = next((e for e in reversed(alloc.last_events) if e.is_crash), None)
        why = f" (last: {last.message})" if last and last.message else ""
        out.append(
            Condition(
                "ModelCrashLooping",
                {**_model_labels(model, ctx), "alloc": alloc.id, "node": alloc.node_name},
                f"{model.name} is crash-looping on {alloc.node_name}",
                f"allocation {_short(alloc.id)} of {model.name} on {alloc.node_name} crashed "
                f"{len(crashes)} times in the last {_span(rule.window)}{why}; Nomad restarted "
                f"it {_plural(alloc.restarts, 'time')} so far",
                rule.for_,
                rule.severity,
            )
        )
    return out


def _recent(alloc: AllocView, ctx: Context, window: float) -> bool:
    moment = alloc.modified or alloc.created
    return moment is not None and moment >= ctx.now - timedelta(seconds=window)


def allocation_failed(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    rule = rules.allocation_failed
    out = []
    for alloc in model.allocations:
        if alloc.client_status != "failed" or not _recent(alloc, ctx, rule.window):
            continue
        last = alloc.last_events[-1].message if alloc.last_events else alloc.client_description
        out.append(
            Condition(
                "ModelAllocationFailed",
                {**_model_labels(model, ctx), "alloc": alloc.id, "node": alloc.node_name},
                f"an allocation of {model.name} failed on {alloc.node_name}",
                f"allocation {_short(alloc.id)} of {model.name} (version {alloc.job_version}) "
                f"failed on {alloc.node_name}: {last or 'no task event'}",
                rule.for_,
                rule.severity,
            )
        )
    return out


def oom_killed(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    rule = rules.oom_killed
    since = ctx.now - timedelta(seconds=rule.window)
    out = []
    for alloc in model.allocations:
        if not alloc.oom_killed or not any(t >= since for t in alloc.crash_times):
            continue
        out.append(
            Condition(
                "ModelOOMKilled",
                {**_model_labels(model, ctx), "alloc": alloc.id, "node": alloc.node_name},
                f"{model.name} ran out of memory on {alloc.node_name}",
                f"allocation {_short(alloc.id)} of {model.name} was OOM-killed "
                f"(exit code 137) with {alloc.memory_mb} MiB; raise resources.memory",
                rule.for_,
                rule.severity,
            )
        )
    return out


# ---------------------------------------------------------------------- model rules


def deployment_failed(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    """The latest failed deployment, while it is news (Nomad may revert at once)."""
    rule = rules.deployment_failed
    dep = model.failed_deployment
    if dep is None or dep.modified is None:
        return []
    if dep.modified < ctx.now - timedelta(seconds=rule.window):
        return []
    reverted = "rolling back" in dep.description.lower()
    return [
        Condition(
            "ModelDeploymentFailed",
            {**_model_labels(model, ctx), "deployment": dep.id},
            f"the deployment of {model.name} version {dep.job_version} failed"
            + (" and Nomad reverted it" if reverted else ""),
            f"deployment {_short(dep.id)} of {model.name}: {dep.description or 'failed'}",
            rule.for_,
            rule.severity,
        )
    ]


def canaries_waiting(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    rule = rules.canaries_waiting
    dep = model.deployment
    if dep is None or not dep.awaiting_promotion:
        return []
    return [
        Condition(
            "ModelCanariesWaiting",
            {**_model_labels(model, ctx), "deployment": dep.id},
            f"canaries of {model.name} wait for promotion",
            f"{_plural(dep.canaries_healthy, 'healthy canary')} of {model.name} version "
            f"{dep.job_version} have waited more than {_span(rule.for_)}: "
            f"run mlctl promote {model.name} (or mlctl rollback {model.name})",
            rule.for_,
            rule.severity,
        )
    ]


def under_replicated(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    rule = rules.under_replicated
    if model.stopped or model.desired <= 0 or model.healthy >= model.desired:
        return []
    severity = "critical" if model.healthy == 0 else rule.severity
    return [
        Condition(
            "ModelUnderReplicated",
            _model_labels(model, ctx),
            f"{model.name} has {model.healthy} of {model.desired} healthy replicas",
            f"{model.name} in {model.namespace} wants {model.desired} replicas but "
            f"{model.running} run and {model.healthy} are healthy, for more than "
            f"{_span(rule.for_)}",
            rule.for_,
            severity,
        )
    ]


def placement_blocked(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    rule = rules.placement_blocked
    if model.blocked is None or model.stopped:
        return []
    return [
        Condition(
            "ModelPlacementBlocked",
            _model_labels(model, ctx),
            f"Nomad cannot place {model.name}",
            f"{model.name}: {model.blocked.reason}",
            rule.for_,
            rule.severity,
        )
    ]


def probe_rules(model: ModelView, rules: Rules, ctx: Context) -> list[Condition]:
    probe = model.probe
    if probe is None or probe.endpoints == 0:
        return []
    out = []
    labels = _model_labels(model, ctx)
    if rules.unreachable.enabled and probe.reachable < probe.endpoints:
        out.append(
            Condition(
                "ModelEndpointUnreachable",
                labels,
                f"{model.name} does not answer on {probe.endpoints - probe.reachable} endpoints",
                f"{probe.endpoints - probe.reachable} of {probe.endpoints} endpoints of "
                f"{model.name} did not answer /readyz: {probe.error or 'no answer'}",
                rules.unreachable.for_,
                rules.unreachable.severity,
            )
        )
    latency = rules.latency
    if latency.enabled and probe.p99_ms is not None and probe.p99_ms > latency.p99_ms:
        out.append(
            Condition(
                "ModelLatencyHigh",
                labels,
                f"{model.name} p99 latency is {probe.p99_ms:.0f} ms",
                f"p99 latency of {model.name} is {probe.p99_ms:.0f} ms, above "
                f"{latency.p99_ms:g} ms (p50 {probe.p50_ms or 0:.0f} ms, "
                f"{probe.req_rate or 0:.1f} req/s)",
                latency.for_,
                latency.severity,
            )
        )
    errors = rules.error_rate
    if (
        errors.enabled
        and probe.error_rate is not None
        and (probe.req_rate or 0) >= errors.min_rate
        and probe.error_rate > errors.threshold
    ):
        out.append(
            Condition(
                "ModelErrorRateHigh",
                labels,
                f"{model.name} answers {probe.error_rate:.0%} of requests with errors",
                f"{probe.error_rate:.1%} of {model.name}'s requests got a 5xx answer "
                f"(threshold {errors.threshold:.0%}, {probe.req_rate or 0:.1f} req/s)",
                errors.for_,
                errors.severity,
            )
        )
    return out


MODEL_RULES: tuple[tuple[str, Callable[[ModelView, Rules, Context], list[Condition]]], ...] = (
    ("crash_loop", crash_loop),
    ("allocation_failed", allocation_failed),
    ("oom_killed", oom_killed),
    ("deployment_failed", deployment_failed),
    ("canaries_waiting", canaries_waiting),
    ("under_replicated", under_replicated),
    ("placement_blocked", placement_blocked),
)


# ---------------------------------------------------------------------- node rules


def _node_problem(node: NodeView) -> str | None:
    if node.status in ("down", "disconnected"):
        return f"is {node.status}"
    if node.drain:
        return "is draining"
    if node.eligibility == "ineligible":
        return "is ineligible for new allocations"
    return None


def node_rules(ctx: Context) -> list[Condition]:
    out: list[Condition] = []
    snapshot = ctx.snapshot
    by_node: dict[str, list[tuple[ModelView, AllocView]]] = {}
    for model in snapshot.models.values():
        for alloc in model.allocations:
            if alloc.live or (alloc.client_status == "lost" and _recent(alloc, ctx, 900)):
                by_node.setdefault(alloc.node_id, []).append((model, alloc))
    for node in snapshot.nodes.values():
        problem = _node_problem(node)
        hosted: dict[tuple[str, str], list[AllocView]] = {}
        for model, alloc in by_node.get(node.id, []):
            hosted.setdefault(model.key, []).append(alloc)
        for key, allocs in sorted(hosted.items()):
            model = snapshot.models[key]
            rules = ctx.rules_for(model)
            labels = {**_model_labels(model, ctx), "node": node.name}
            if problem and rules.node_unavailable.enabled:
                out.append(
                    Condition(
                        "NodeUnavailable",
                        labels,
                        f"node {node.name} {problem}",
                        f"node {node.name} {problem}; {_plural(len(allocs), 'allocation')} of "
                        f"{model.name} ran there",
                        rules.node_unavailable.for_,
                        "critical" if node.status == "down" else rules.node_unavailable.severity,
                    )
                )
            held = {g for a in allocs if a.live for g in a.gpu_ids}
            for gpu in node.gpus:
                if gpu.healthy or gpu.id not in held or not rules.gpu_unhealthy.enabled:
                    continue
                out.append(
                    Condition(
                        "GPUUnhealthy",
                        {**labels, "gpu": gpu.id},
                        f"GPU {gpu.id} on {node.name} is unhealthy",
                        f"GPU {gpu.id} ({gpu.name}) on {node.name}, used by {model.name}, "
                        "is reported unhealthy by the device plugin",
                        rules.gpu_unhealthy.for_,
                        rules.gpu_unhealthy.severity,
                    )
                )
    return out


# ---------------------------------------------------------------------- everything


def evaluate(ctx: Context, models: Iterable[ModelView] | None = None) -> list[Condition]:
    """Every condition that holds now, for every model (and node) of the snapshot."""
    out: list[Condition] = []
    for model in models if models is not None else ctx.snapshot.models.values():
        rules = ctx.rules_for(model)
        for name, rule in MODEL_RULES:
            if getattr(rules, name).enabled:
                out.extend(rule(model, rules, ctx))
        out.extend(probe_rules(model, rules, ctx))
    out.extend(node_rules(ctx))
    return out
