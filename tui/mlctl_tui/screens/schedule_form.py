"""The schedule window form: fields checked as they are typed, the next five transitions
shown before saving.

Each field is checked by the schedule package's own parser for it
(:func:`mlctl.schedule.edit.check_field`), so the form, the CLI and the bundle schema
accept and refuse exactly the same text. The preview is the whole schedule with this
window in it (:func:`mlctl.schedule.edit.preview`), computed off the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from mlctl.errors import MlctlError
from mlctl.schedule import edit, fields
from mlctl.schedule.problems import FieldError
from mlctl.schedule.spec import WindowSpec
from mlctl.schedule.timeline import Transition
from mlctl.schedule.view import format_instant

KINDS = ("weekly", "cron", "once")
#: Form field -> (the schedule field that checks it, label, placeholder, kind).
FIELDS: dict[str, tuple[str, str, str, str]] = {
    "days": ("days", "Days", "Mon-Fri", "weekly"),
    "time": ("time", "Time", "09:00-18:00 (24:00 allowed as end; may cross midnight)", "weekly"),
    "weekly_tz": ("tz", "Time zone", "Europe/Berlin", "weekly"),
    "start": ("start", "Start (cron)", "0 9 * * 1-5", "cron"),
    "stop": ("stop", "Stop (cron)", "0 18 * * 1-5", "cron"),
    "cron_tz": ("tz", "Time zone", "Europe/Berlin", "cron"),
    "from": ("from", "From", "2025-12-24T00:00:00+01:00", "once"),
    "until": ("until", "Until", "2025-12-27T00:00:00+01:00", "once"),
}


@dataclass(frozen=True)
class FormContext:
    """What the form needs to preview the schedule it changes."""

    model: str
    namespace: str
    others: list[dict[str, Any]]  #: the schedule's other windows, as written
    replicas: int  #: the schedule's default replicas (the bundle's)
    idle_replicas: int | None
    now: datetime


def initial_values(spec: WindowSpec | None) -> tuple[str, dict[str, str], str, bool]:
    """(kind, field values, replicas text, down) for editing ``spec`` (or a new window)."""
    values = {name: "" for name in FIELDS}
    if spec is None:
        values.update(days="Mon-Fri", time="09:00-18:00", weekly_tz="UTC", cron_tz="UTC")
        return "weekly", values, "", False
    replicas = "" if spec.replicas is None else str(spec.replicas)
    if spec.window is not None:
        days, times, zone = fields.split_weekly(spec.window)
        values.update(days=days, time=times, weekly_tz=zone)
        return "weekly", values, replicas, spec.down
    if spec.start is not None:
        values.update(start=spec.start, stop=spec.stop or "", cron_tz=spec.tz or "")
        return "cron", values, replicas, spec.down
    values.update({"from": spec.from_ or "", "until": spec.until or ""})
    return "once", values, replicas, spec.down


def raw_window(kind: str, values: dict[str, str], replicas: str, down: bool) -> dict[str, Any]:
    """The window as the schedule package takes it (``edit.window_spec``)."""
    raw: dict[str, Any]
    if kind == "weekly":
        raw = {
            "window": f"{values['days'].strip()} {values['time'].strip()} "
            f"{values['weekly_tz'].strip()}"
        }
    elif kind == "cron":
        raw = {"start": values["start"], "stop": values["stop"], "tz": values["cron_tz"]}
    else:
        raw = {"from": values["from"], "until": values["until"]}
    if down:
        raw["down"] = True
    elif replicas.strip():
        raw["replicas"] = int(replicas) if replicas.strip().isdigit() else replicas
    return raw


def field_problem(name: str, value: str) -> str:
    checker = FIELDS[name][0]
    try:
        return edit.check_field(checker, value) or ""
    except FieldError as error:  # pragma: no cover - check_field reports, never raises
        return error.message


def replicas_problem(text: str) -> str:
    if not text.strip():
        return ""
    if not text.strip().isdigit() or int(text) > 1000:
        return "a whole number from 0 to 1000 (empty: the schedule's replicas)"
    return ""


class ScheduleForm(ModalScreen[dict[str, Any] | None]):
    """Add or edit one window; dismisses with the raw window, or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, context: FormContext, spec: WindowSpec | None = None) -> None:
        super().__init__()
        self.form = context
        self.editing = spec is not None
        self.kind, self.values, self.replicas, self.down = initial_values(spec)
        self.problems: dict[str, str] = {}
        self.preview_text = ""

    def compose(self) -> ComposeResult:
        verb = "Edit a window of" if self.editing else "Add a window to"
        with Vertical(id="form-dialog"):
            yield Label(
                f"{verb} the schedule of {self.form.model} in {self.form.namespace}", id="title"
            )
            with RadioSet(id="kind"):
                yield RadioButton("Weekly", value=self.kind == "weekly", id="kind-weekly")
                yield RadioButton("Cron start/stop", value=self.kind == "cron", id="kind-cron")
                yield RadioButton("One-off", value=self.kind == "once", id="kind-once")
            with VerticalScroll(id="fields"):
                for name, (_checker, label, placeholder, kind) in FIELDS.items():
                    with Horizontal(classes=f"field field-{kind}", id=f"row-{name}"):
                        yield Label(label, classes="field-label")
                        yield Input(self.values[name], placeholder=placeholder, id=f"f-{name}")
                        yield Label("", classes="problem", id=f"p-{name}", markup=False)
                with Horizontal(classes="field", id="row-replicas"):
                    yield Label("Replicas", classes="field-label")
                    yield Input(
                        self.replicas, placeholder=f"empty: {self.form.replicas}", id="f-replicas"
                    )
                    yield Label("", classes="problem", id="p-replicas", markup=False)
                yield Checkbox(
                    "Down window (maintenance: 0 replicas, wins over others)",
                    self.down,
                    id="f-down",
                )
            yield Label("Next five transitions of the schedule with this window:")
            yield Static("", id="preview", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self._show_kind()
        for name in FIELDS:
            self._check(name)
        self._check_replicas()
        self._update()

    # ------------------------------------------------------------------ checking

    def _show_kind(self) -> None:
        for row in self.query(".field"):
            kind = next((k for k in KINDS if row.has_class(f"field-{k}")), None)
            row.display = kind is None or kind == self.kind
        self.query_one("#row-replicas").display = not self.down

    def _check(self, name: str) -> None:
        problem = field_problem(name, self.values[name])
        self.problems[name] = problem
        self.query_one(f"#p-{name}", Label).update(problem)

    def _check_replicas(self) -> None:
        problem = "" if self.down else replicas_problem(self.replicas)
        self.problems["replicas"] = problem
        self.query_one("#p-replicas", Label).update(problem)

    def current_problems(self) -> dict[str, str]:
        relevant = {n for n, spec in FIELDS.items() if spec[3] == self.kind} | {"replicas"}
        return {n: p for n, p in self.problems.items() if p and n in relevant}

    def zone(self) -> tzinfo:
        """The zone the window is written in (its transitions are shown there and in UTC)."""
        name = {"weekly": "weekly_tz", "cron": "cron_tz"}.get(self.kind)
        if name is None:
            return UTC
        try:
            return fields.parse_zone(self.values[name])
        except FieldError:
            return UTC

    def raw(self) -> dict[str, Any]:
        return raw_window(self.kind, self.values, self.replicas, self.down)

    def _update(self) -> None:
        problems = self.current_problems()
        save = self.query_one("#save", Button)
        if problems:
            save.disabled = True
            self.query_one("#preview", Static).update("fix the fields marked above first")
            return
        save.disabled = True  # until the preview says the whole window is valid
        self.query_one("#preview", Static).update("computing…")
        self.compute_preview(self.raw())

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def compute_preview(self, raw: dict[str, Any]) -> None:
        try:
            transitions = edit.preview(
                [*self.form.others, raw],
                replicas=self.form.replicas,
                idle_replicas=self.form.idle_replicas,
                now=self.form.now,
            )
        except MlctlError as error:
            self.app.call_from_thread(self._show_preview, None, error.one_line())
            return
        self.app.call_from_thread(self._show_preview, transitions, "")

    def _show_preview(self, transitions: list[Transition] | None, problem: str) -> None:
        save = self.query_one("#save", Button)
        preview = self.query_one("#preview", Static)
        if transitions is None:
            save.disabled = True
            preview.update(problem)
            return
        save.disabled = bool(self.current_problems())
        zone = self.zone()
        lines = [f"{format_instant(t.at, zone)} → {t.replicas} replicas" for t in transitions]
        self.preview_text = "\n".join(lines) or "no transition within five years"
        preview.update(self.preview_text)

    # ------------------------------------------------------------------ events

    def on_input_changed(self, event: Input.Changed) -> None:
        ident = event.input.id or ""
        name = ident.removeprefix("f-")
        if name in FIELDS:
            self.values[name] = event.value
            self._check(name)
        elif name == "replicas":
            self.replicas = event.value
            self._check_replicas()
        self._update()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.kind = (event.pressed.id or "kind-weekly").removeprefix("kind-")
        self._show_kind()
        self._update()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.down = event.value
        self._show_kind()
        self._check_replicas()
        self._update()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        if self.current_problems() or self.query_one("#save", Button).disabled:
            self.notify("fix the fields marked in the form first", severity="warning")
            return
        self.dismiss(self.raw())

    def action_cancel(self) -> None:
        self.dismiss(None)
