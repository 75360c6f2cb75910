"""What each action will do, in the words its confirmation shows (pure).

Every action the TUI offers is described here before it runs: the confirmation modal
shows :attr:`Plan.text` ("scale iris in team-a from 3 to 0: 3 allocations will stop"),
and destructive plans need an explicit ``y`` (Enter alone does not confirm them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlctl.monitor.views import AllocView, ModelView, NodeView
from mlctl_tui.core.formatting import short_id


@dataclass(frozen=True, slots=True)
class Plan:
    """An action about to run: what, on what, and whether it interrupts service."""

    action: str
    title: str
    text: str
    destructive: bool


def where(model: ModelView) -> str:
    return f"{model.name} in {model.namespace}"


def _allocations(count: int) -> str:
    return f"{count} allocation" + ("" if count == 1 else "s")


def scale(model: ModelView, count: int, scheduled: int | None = None) -> Plan:
    current = model.desired
    if count > current:
        effect = f"{_allocations(count - current)} will start"
    elif count < current:
        effect = f"{_allocations(current - count)} will stop"
    else:
        effect = "nothing changes"
    text = f"scale {where(model)} from {current} to {count}: {effect}"
    if scheduled is not None and scheduled != count:
        text += (
            f". Its schedule wants {scheduled} now; {count} holds as an override until the "
            "schedule's next transition"
        )
    return Plan("scale", f"Scale {model.name}", text, destructive=count < current)


def start(model: ModelView, target: int, source: str) -> Plan:
    if model.stopped:
        text = (
            f"start {where(model)}: Nomad registers job {model.job_id} again with {target} "
            f"replicas ({source}); {_allocations(target)} will start"
        )
    else:
        text = (
            f"start {where(model)}: scale from {model.desired} to {target} ({source}); "
            f"{_allocations(max(0, target - model.desired))} will start"
        )
    return Plan("start", f"Start {model.name}", text, destructive=False)


def stop(model: ModelView, scheduled: bool = False) -> Plan:
    live = len(model.live_allocations)
    text = (
        f"stop {where(model)}: Nomad stops job {model.job_id} and its "
        f"{_allocations(live)}; the job stays registered, so start brings it back"
    )
    if scheduled:
        text += (
            ". Its schedule may start it again at the next transition "
            "(pause the schedule to keep it down)"
        )
    return Plan("stop", f"Stop {model.name}", text, destructive=True)


def _tally(names: Iterable[str]) -> str:
    counts = Counter(names)
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in sorted(counts.items()))


def restart(targets: Sequence[tuple[ModelView, Sequence[AllocView]]]) -> Plan:
    """Restart the running allocations of one or more models (or chosen allocations)."""
    allocs = [(m, a) for m, items in targets for a in items]
    if len(targets) == 1:
        model, items = targets[0]
        ids = ", ".join(short_id(a.id) for a in items[:6]) + (" …" if len(items) > 6 else "")
        text = (
            f"restart {_allocations(len(items))} of {where(model)} in place ({ids}): each task "
            "restarts on its node, without rescheduling; they answer again once ready"
        )
        title = f"Restart {model.name}"
    else:
        text = (
            f"restart {_allocations(len(allocs))} in place across {len(targets)} models "
            f"({_tally(f'{m.name}/{m.namespace}' for m, _ in allocs)}): each task restarts on "
            "its node, without rescheduling"
        )
        title = f"Restart {len(targets)} models"
    return Plan("restart", title, text, destructive=True)


def promote(model: ModelView) -> Plan:
    deployment = model.deployment
    if deployment is None:
        text = f"promote the canaries of {where(model)}"
    else:
        text = (
            f"promote the canaries of {where(model)} (deployment {short_id(deployment.id)}, "
            f"version {deployment.job_version}): {deployment.canaries_healthy} of "
            f"{deployment.canaries_desired} canaries are healthy; Nomad then replaces the other "
            f"allocations with version {deployment.job_version}"
        )
    return Plan("promote", f"Promote {model.name}", text, destructive=False)


def _version_label(item: Mapping[str, Any]) -> str:
    parts = [str(item.get("model_version") or "")]
    if item.get("bundle_sha256"):
        parts.append(f"bundle {str(item['bundle_sha256'])[:12]}")
    if item.get("deployed_by"):
        parts.append(f"deployed by {item['deployed_by']}")
    inner = ", ".join(p for p in parts if p)
    return f"version {item.get('version')}" + (f" ({inner})" if inner else "")


def rollback(model: ModelView, current: Mapping[str, Any], target: Mapping[str, Any]) -> Plan:
    text = (
        f"roll {where(model)} back from {_version_label(current)} to {_version_label(target)}: "
        f"Nomad submits that job again as a new version and replaces the "
        f"{_allocations(len(model.live_allocations))}"
    )
    return Plan("rollback", f"Roll back {model.name}", text, destructive=True)


def drain(node: NodeView, allocs: Iterable[AllocView], names: Mapping[str, str]) -> Plan:
    live = [a for a in allocs if a.live]
    moving = _tally(f"{names.get(a.job_id, a.job_id)} in {a.namespace}" for a in live)
    text = (
        f"drain node {node.name}: it becomes ineligible and Nomad moves its "
        f"{_allocations(len(live))}" + (f" ({moving})" if moving else "") + " to other nodes"
    )
    return Plan("drain", f"Drain {node.name}", text, destructive=True)


def eligibility(node: NodeView, eligible: bool, live_allocs: int) -> Plan:
    if eligible:
        text = f"mark node {node.name} eligible: Nomad may place new allocations there again"
    else:
        text = (
            f"mark node {node.name} ineligible: Nomad places no new allocations there; its "
            f"{_allocations(live_allocs)} keep running"
        )
    state = "eligible" if eligible else "ineligible"
    return Plan("eligibility", f"Mark {node.name} {state}", text, destructive=False)


def stop_alloc(model: ModelView | None, alloc: AllocView) -> Plan:
    owner = where(model) if model else f"{alloc.job_id} in {alloc.namespace}"
    text = (
        f"stop allocation {short_id(alloc.id)} of {owner} on "
        f"{alloc.node_name or short_id(alloc.node_id)}: Nomad stops this one instance and "
        "places a replacement"
    )
    return Plan("stop-alloc", f"Stop allocation {short_id(alloc.id)}", text, destructive=True)


def remove_window(model: str, namespace: str, label: str, last: bool) -> Plan:
    text = f"remove window {label!r} from the schedule of {model} in {namespace}"
    if last:
        text += ": it is the last window, so the schedule is removed and the model keeps its count"
    return Plan("schedule-remove", f"Remove a window of {model}", text, destructive=last)


def pause(model: str, namespace: str, paused: bool) -> Plan:
    if paused:
        text = f"pause the schedule of {model} in {namespace}: the monitor stops scaling it"
    else:
        text = (
            f"resume the schedule of {model} in {namespace}: the monitor scales it to the "
            "schedule's count at its next pass"
        )
    verb = "Pause" if paused else "Resume"
    return Plan("schedule-pause", f"{verb} the schedule of {model}", text, destructive=False)
