"""Carry out planned actions against Nomad, at most once each.

For every action the model's history (``mlctl/monitor/actions/<namespace>/<job>`` in
the monitor's state namespace) is updated *first*, with check-and-set, after
re-checking the bounds and cool-downs on the freshly read copy; only then is Nomad
called. A monitor killed between the two skips the action rather than repeating it,
and two monitors never both act. When Nomad refuses for a passing reason (a deployment
is running, the task is between restarts) the history entry is taken back so the
action is tried again at the next interval.

Every outcome is written to the event log (``kind: action``) with the reason and the
alert that caused it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mlctl.bundle.alerts import Actions
from mlctl.errors import InvalidInput, MlctlError, Unreachable
from mlctl.monitor.actions import Action, History, record, still_allowed
from mlctl.monitor.clock import Clock
from mlctl.monitor.varstore import Items, Variables, safe_path
from mlctl.monitor.views import ModelKey
from mlctl.nomad.client import NomadClient

PREFIX = "mlctl/monitor/actions"
Log = Callable[..., Any]


class _Skip(Exception):
    pass


class Executor:
    def __init__(
        self,
        variables: Variables,
        client: Callable[[], NomadClient],
        clock: Clock,
        log: Log,
    ) -> None:
        self.variables = variables
        self._client = client
        self.clock = clock
        self.log = log
        self._cache: dict[ModelKey, History] = {}

    @staticmethod
    def path(key: ModelKey) -> str:
        return safe_path(PREFIX, *key)

    def forget(self) -> None:
        """Drop cached histories (another monitor may have acted meanwhile)."""
        self._cache.clear()

    def history(self, key: ModelKey) -> History:
        """The model's history (read from Nomad once, then kept up to date here)."""
        if key not in self._cache:
            items, _ = self.variables.read(self.path(key))
            self._cache[key] = _decode(items)
        return self._cache[key]

    def run(self, action: Action, actions: Actions) -> str:
        """Do ``action``; returns the outcome (``done``, ``skipped``, ``deferred: …``,
        ``failed: …``) after logging it."""
        now = self.clock()

        def claim(items: Items | None) -> Items:
            current = _decode(items)
            if not still_allowed(current, action, now, actions):
                self._cache[action.key] = current
                raise _Skip
            return _encode(record(current, action, now))

        try:
            claimed = self.variables.update(self.path(action.key), claim)
        except _Skip:
            return "skipped"
        except MlctlError as error:
            return self._log(action, f"failed: cannot record the action: {error.one_line()}")
        self._cache[action.key] = _decode(claimed)
        try:
            detail = self._call(action)
        except _Deferred as passing:
            self._take_back(action)
            return self._log(action, f"deferred: {passing}")
        except MlctlError as error:
            return self._log(action, f"failed: {error.one_line()}")
        return self._log(action, "done" + (f": {detail}" if detail else ""))

    def _log(self, action: Action, result: str) -> str:
        self.log(
            "action",
            model=action.model,
            namespace=action.key[0],
            action=action.kind,
            description=action.describe(),
            reason=action.reason,
            alert=action.alert,
            result=result,
        )
        return result

    def _take_back(self, action: Action) -> None:
        """Undo the history entry of an action Nomad refused for a passing reason."""
        before = self._cache.get(action.key, History())

        def undo(items: Items | None) -> Items:
            current = _decode(items)
            if action.kind == "restart":
                done = current.restarts.get(action.alloc_id)
                if done:
                    done["count"] = max(0, int(done.get("count", 1)) - 1)
                    done.pop("last", None)
            elif action.kind == "scale":
                current.scaled_at = None
            elif action.kind == "revert":
                current.reverted.pop(action.deployment_id, None)
            return _encode(current)

        try:
            self._cache[action.key] = _decode(self.variables.update(self.path(action.key), undo))
        except MlctlError:
            self._cache[action.key] = before

    # ------------------------------------------------------------------ Nomad calls

    def _call(self, action: Action) -> str:
        transport = self._client().transport
        namespace, job_id = action.key
        params = {"namespace": namespace}
        if action.kind == "restart":
            try:
                transport.request(
                    "post", "client", "allocation", action.alloc_id, "restart",
                    params=params, json={},
                )  # fmt: skip
            except Unreachable as error:
                if "not running" in error.message.lower():
                    raise _Deferred("the task is between restarts") from error
                raise
            return ""
        if action.kind == "scale":
            body = {
                "Count": action.count,
                "Target": {"Group": action.group},
                "Message": f"mlctl monitor: {action.reason}"[:250],
            }
            try:
                transport.json("post", "job", job_id, "scale", params=params, json=body)
            except InvalidInput as error:
                if "deployment" in error.message.lower():
                    raise _Deferred("a deployment is running; Nomad refuses to scale") from error
                raise
            return f"count {action.count}"
        return self._revert(transport, job_id, params, action)

    @staticmethod
    def _revert(transport: Any, job_id: str, params: dict[str, str], action: Action) -> str:
        data = transport.json("get", "job", job_id, "versions", params=params)
        versions = list(data.get("Versions") or [])
        if not versions:
            return "no versions"
        current = int(versions[0].get("Version") or 0)
        stable = [
            int(v["Version"])
            for v in versions
            if v.get("Stable") and int(v.get("Version") or 0) < action.count
        ]
        if not stable:
            return f"no stable version older than {action.count}: nothing to revert to"
        target = max(stable)
        body = {"JobID": job_id, "JobVersion": target, "EnforcePriorVersion": current}
        transport.json("post", "job", job_id, "revert", params=params, json=body)
        return f"reverted to version {target}"


class _Deferred(Exception):
    pass


def _decode(items: Items | None) -> History:
    if not items or "history" not in items:
        return History()
    try:
        return History.from_dict(json.loads(items["history"]))
    except ValueError:
        return History()


def _encode(history: History) -> Items:
    return {"history": json.dumps(history.to_dict(), separators=(",", ":"), sort_keys=True)}
