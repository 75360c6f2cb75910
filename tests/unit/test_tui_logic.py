"""The TUI's pure logic: rows, filters, sorting, health, confirmations, feed, logs, notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mlctl_tui.core import feed, plans
from mlctl_tui.core.alerts import alert_rows, parse_duration, state_text
from mlctl_tui.core.health import Health, model_health, summarize_alerts
from mlctl_tui.core.logbuffer import LogBuffer, LogSearch, wrap
from mlctl_tui.core.models import ModelRows
from mlctl_tui.core.permissions import Abilities
from mlctl_tui.core.schedules import schedule_cell
from mlctl_tui.core.table import RowFilter, TableRow, sort_rows
from rich.cells import cell_len

from mlctl.local.engine.acl import Grant, parse_policy
from mlctl.monitor.notes import AlertNote
from mlctl.monitor.store import Store
from mlctl.monitor.views import Alert
from mlctl.schedule.spec import StoredSchedule
from tests.unit.monitor_objects import T0, alloc, deployment, job, node


def store_with(*objects):
    store = Store()
    for kind, obj in objects:
        store.apply(kind, obj)
    return store


def iris(count=2, healthy=(True, True), **job_args):
    objects = [("jobs", job(count=count, **job_args))]
    for number, ok in enumerate(healthy):
        objects.append(("allocs", alloc(f"a{number}", healthy=ok, index=20 + number)))
    return store_with(*objects).snapshot().models[("default", "mlctl-iris")]


# ---------------------------------------------------------------------- table


def rows(*values):
    return [TableRow(str(i), (name,), (value,)) for i, (name, value) in enumerate(values)]


def test_filter_is_a_case_insensitive_regex_and_bang_inverts():
    table = [TableRow("1", ("iris", "team-a")), TableRow("2", ("bert", "team-b"))]
    assert [r.key for r in RowFilter.parse("^IR").apply(table)] == ["1"]
    assert [r.key for r in RowFilter.parse("!team-a").apply(table)] == ["2"]
    assert len(RowFilter.parse("").apply(table)) == 2
    assert len(RowFilter.parse("!").apply(table)) == 2  # nothing typed after the bang yet


def test_a_broken_regex_matches_literally_and_says_so():
    row_filter = RowFilter.parse("iris(")
    assert row_filter.error.startswith("not a regular expression")
    assert row_filter.keeps("model iris(v2)") and not row_filter.keeps("iris")


def test_sorting_is_numeric_and_missing_values_come_last_both_ways():
    table = rows(("a", 10), ("b", None), ("c", 9), ("d", 100))
    assert [r.cells[0] for r in sort_rows(table, 0)] == ["c", "a", "d", "b"]
    assert [r.cells[0] for r in sort_rows(table, 0, reverse=True)] == ["d", "a", "c", "b"]


# ---------------------------------------------------------------------- health and rows


def test_health_words_and_reasons():
    assert model_health(iris()) == (Health.HEALTHY, "healthy")
    assert model_health(iris(healthy=(True, False))) == (Health.DEGRADED, "1/2 healthy")
    assert model_health(iris(healthy=(False, False)))[0] is Health.FAILING
    assert model_health(iris(stop=True)) == (Health.STOPPED, "stopped")
    assert model_health(iris(count=0, healthy=())) == (Health.STOPPED, "scaled to 0")


def test_a_deployment_waiting_for_promotion_says_so():
    store = store_with(
        ("jobs", job(count=2)),
        ("allocs", alloc("a0")),
        ("deployments", deployment(canaries=1, placed_canaries=1, healthy=1)),
    )
    model = store.snapshot().models[("default", "mlctl-iris")]
    assert model_health(model) == (Health.DEPLOYING, "canaries await promotion (1/1 healthy)")


def test_model_rows_are_reused_while_their_view_is_unchanged():
    store = store_with(("jobs", job()), ("allocs", alloc("a0")))
    builder = ModelRows()
    snapshot = store.snapshot()
    first = builder.build(snapshot.models.values(), {}, {}, T0)
    assert first[0].cells[3] == "2/1/1" and first[0].style == "degraded"
    assert builder.build(snapshot.models.values(), {}, {}, T0)[0] is first[0]
    store.apply("allocs", alloc("a1", index=40))
    changed = builder.build(store.snapshot().models.values(), {}, {}, T0)
    assert changed[0] is not first[0] and changed[0].cells[3] == "2/2/2"


def test_firing_alerts_count_per_model_and_critical_ones_fail_it():
    alert = Alert(
        {
            "alertname": "ModelCrashLooping",
            "severity": "critical",
            "namespace": "default",
            "job": "mlctl-iris",
            "model": "iris",
        },
        {},
        T0,
        None,
        "f1",
    )
    summary = summarize_alerts((alert,))[("default", "mlctl-iris")]
    assert summary.text == "1 critical"
    assert model_health(iris(), summary) == (Health.FAILING, "alert: ModelCrashLooping")


def test_schedule_cell_shows_state_and_the_next_change():
    doc = StoredSchedule.model_validate(
        {"windows": [{"window": "Mon-Fri 09:00-18:00 UTC"}], "replicas": 3}
    )
    monday_8 = T0.replace(hour=8)  # T0 is Monday 2025-03-03
    cell = schedule_cell(doc, monday_8)
    assert (cell.state, cell.next_text) == ("down", "start in 1h00m")
    assert schedule_cell(doc, T0.replace(hour=10)).state == "up 3"


# ---------------------------------------------------------------------- confirmations


def test_scale_down_says_how_many_stop_and_is_destructive():
    plan = plans.scale(iris(count=3, healthy=(True, True, True)), 0)
    assert plan.text.startswith("scale iris in default from 3 to 0: 3 allocations will stop")
    assert plan.destructive
    up = plans.scale(iris(), 3, scheduled=0)
    assert up.text.startswith("scale iris in default from 2 to 3: 1 allocation will start")
    assert "override until the schedule's next transition" in up.text and not up.destructive


def test_drain_names_what_moves():
    store = store_with(
        ("jobs", job()),
        ("nodes", node()),
        ("allocs", alloc("a0")),
        ("allocs", alloc("a1", index=21)),
    )
    snapshot = store.snapshot()
    plan = plans.drain(snapshot.nodes["n1"], snapshot.allocations.values(), {"mlctl-iris": "iris"})
    assert plan.text == (
        "drain node gpu-1: it becomes ineligible and Nomad moves its "
        "2 allocations (iris in default x2) to other nodes"
    )
    assert plan.destructive


# ---------------------------------------------------------------------- the feed


def test_feed_reports_what_changed_between_snapshots():
    store = store_with(("jobs", job()), ("allocs", alloc("a0")), ("nodes", node()))
    for kind in ("jobs", "allocs", "deployments", "evals", "nodes"):
        store.resync(kind, [], 0)
    store.apply("allocs", alloc("a0", index=30))
    before = store.snapshot()
    store.apply("allocs", alloc("a0", index=31, client_status="failed"))
    store.apply("nodes", node(index=32, status="down"))
    events = feed.changes(before, store.snapshot(), T0)
    texts = {(e.severity, e.text) for e in events}
    assert ("critical", "allocation a0 failed on node-n1: Started event") in texts
    assert ("critical", "status ready → down") in texts
    assert feed.changes(None, before, T0) == []


def test_the_first_full_listing_is_the_starting_point_not_news():
    store = store_with(("jobs", job()))
    before = store.snapshot()  # not synced yet: still loading the first listing
    store.apply("allocs", alloc("a0"))
    assert feed.changes(before, store.snapshot(), T0) == []


# ---------------------------------------------------------------------- logs


def test_log_lines_are_assembled_per_source_and_never_interleave():
    buffer = LogBuffer()
    assert buffer.feed("a", "stdout", b"hel") == []
    buffer.feed("b", "stdout", b"other\n")
    (line,) = buffer.feed("a", "stdout", b"lo\x1b[2J\n")
    assert line.text == "hello?[2J"  # a log cannot drive the operator's terminal
    assert [x.display(prefixed=True) for x in buffer.lines] == ["[b] other", "[a] hello?[2J"]


def test_log_buffer_is_bounded_and_counts_what_it_dropped():
    buffer = LogBuffer(limit=3)
    buffer.feed("", "stdout", "".join(f"{n}\n" for n in range(5)).encode())
    assert [x.text for x in buffer.lines] == ["2", "3", "4"] and buffer.dropped == 2


def test_log_search_and_wrap():
    search = LogSearch.parse("err(or")
    assert search.error and search.spans("an err(or here") == [(3, 9)]
    assert LogSearch.parse("o").matches(["foo", "bar", "o"]) == [0, 2]
    assert list(wrap("abcdefg", 3)) == [(0, "abc"), (3, "def"), (6, "g")]


def test_wrap_counts_screen_cells_not_characters():
    # Wide characters take two cells: five cells hold two of them, not five.
    pieces = list(wrap("日本語のログ行です", 5))
    assert pieces == [(0, "日本"), (2, "語の"), (4, "ログ"), (6, "行で"), (8, "す")]
    assert all(cell_len(piece) <= 5 for _offset, piece in pieces)
    # A combining accent takes none; offsets stay in characters for the search spans.
    assert list(wrap("e\u0301e\u0301e\u0301x", 2)) == [(0, "e\u0301e\u0301"), (4, "e\u0301x")]
    # A character wider than the width still gets a piece: nothing is dropped.
    assert list(wrap("a日b", 1)) == [(0, "a"), (1, "日"), (2, "b")]
    mixed = "ok 完了 done ✅ next"
    assert "".join(piece for _o, piece in wrap(mixed, 4)) == mixed


# ---------------------------------------------------------------------- alerts and notes


def test_notes_round_trip_and_silences_end():
    note = AlertNote(
        "f1",
        "team-a",
        {"alertname": "X"},
        acked_by="ann",
        acked_at=T0,
        silenced_until=T0 + timedelta(hours=2),
        silenced_by="ann",
    )
    again = AlertNote.from_json("team-a", note.to_json())
    assert again == note
    assert note.silenced(T0) and not note.silenced(T0 + timedelta(hours=3))
    alert = Alert({"alertname": "X", "severity": "warning"}, {}, T0, None, "f1")
    assert state_text(alert, note, T0) == "firing · silenced 2h00m · acked"
    (row,) = alert_rows([alert], {"f1": note}, T0)
    assert row.style == "stopped"  # silenced alerts are greyed


@pytest.mark.parametrize(
    ("text", "problem"), [("3w", "not a duration"), ("0m", "at least"), ("15d", "at most 14d")]
)
def test_silence_durations_are_bounded(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_duration(text)
    assert parse_duration(" 4h ") == timedelta(hours=4)


# ---------------------------------------------------------------------- abilities


def test_abilities_follow_the_token_policies():
    policy = parse_policy(
        'namespace "team-a" { policy = "write"\n'
        '  variables { path "mlctl/schedules/*" { capabilities = ["write"] } } }\n'
        'namespace "team-c" { policy = "write" }\n'
        'namespace "*" { policy = "read" }\nnode { policy = "read" }\n'
    )
    abilities = Abilities(grant=Grant(False, [policy]))
    assert abilities.allows("scale", "team-a") and abilities.allows("logs", "team-a")
    assert not abilities.allows("scale", "team-b") and not abilities.allows("drain")
    assert abilities.allows("schedule", "team-a", model="iris")
    assert not abilities.allows("alert-note", "team-a", fingerprint="f1")
    assert not abilities.allows("schedule", "team-b", model="iris")
    # As in Nomad, a coarse "write" grants no Variables: those need a path.
    assert abilities.allows("scale", "team-c")
    assert not abilities.allows("schedule", "team-c", model="iris")
    assert Abilities().allows("drain")  # unknown: offered, Nomad decides
    readonly = Abilities(readonly=True)
    assert not readonly.allows("scale") and readonly.allows("logs")
    with pytest.raises(KeyError):
        abilities.allows("explode")


def test_the_previous_instance_is_the_replaced_allocation_else_earlier_runs_in_place():
    import dataclasses

    from mlctl_tui.screens.logs import previous_of

    from mlctl.monitor.convert import alloc_view

    current = alloc_view(alloc("0f3c1d2e-0000"))
    assert previous_of(current, "") is None  # replaced nothing, never restarted
    replaced = previous_of(current, "9a8b7c6d-1111")
    assert replaced is not None and replaced.alloc_id == "9a8b7c6d-1111"
    assert replaced.note == "previous instance 9a8b7c6d (replaced by 0f3c1d2e)"
    restarted = dataclasses.replace(current, restarts=2)
    runs = previous_of(restarted, "")
    assert runs is not None and runs.alloc_id == current.id
    assert runs.note.startswith("earlier runs of 0f3c1d2e (2 restarts in place")


def test_metrics_refused_read_denied_not_blank():
    from mlctl.monitor.views import ProbeMetrics

    store = store_with(("jobs", job(count=1)), ("allocs", alloc("a0")))
    key = ("default", "mlctl-iris")
    builder = ModelRows()
    store.set_probe(key, ProbeMetrics(T0, 1, 1, 1, metrics_denied=1))
    denied = builder.build(store.snapshot().models.values(), {}, {}, T0)[0]
    assert denied.cells[7] == "denied" and denied.cells[8] == "-"
    store.set_probe(key, ProbeMetrics(T0, 1, 1, 1, req_rate=2.0, p99_ms=12.0))
    figures = builder.build(store.snapshot().models.values(), {}, {}, T0)[0]
    assert figures.cells[7] == "2.0" and figures.cells[8] == "12 ms"


def test_the_disconnected_bar_says_the_data_is_stale_before_any_long_error():
    from mlctl_tui.state import View
    from mlctl_tui.widgets.common.connection_bar import connection_text

    store = Store()
    error = "event stream ended: Nomad at http://127.0.0.1:4646 " + "x" * 300
    store.set_connection(False, "stream", at=T0, error=error)
    view = View(store.snapshot(), T0 + timedelta(seconds=5), Abilities(), address="http://n:4646")
    text, state = connection_text(view)
    assert state == "down"
    stale = text.index("showing the last known state, reconnecting…")
    assert text.index("disconnected since") < stale < text.index(error)  # cut at the end only
