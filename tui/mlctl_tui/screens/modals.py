"""Modal dialogs: confirmations, the one ErrorModal, and small prompts.

A confirmation says exactly what will happen (:class:`~mlctl_tui.core.plans.Plan`).
Enter confirms a harmless plan; a destructive one needs ``y`` — Enter alone only
reminds the operator which key confirms it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from mlctl_tui.core.plans import Plan


class ConfirmModal(ModalScreen[bool]):
    """``Plan.text`` and two answers. Destructive plans confirm only with ``y``."""

    BINDINGS = [
        Binding("y", "confirm", "Yes, do it"),
        Binding("n,escape", "cancel", "No"),
        Binding("enter", "enter", "Confirm", show=False),
    ]

    def __init__(self, plan: Plan) -> None:
        super().__init__(classes="-destructive" if plan.destructive else "")
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.plan.title, id="title", markup=False)
            yield Static(
                self.plan.text[:1].upper() + self.plan.text[1:] + ".", id="text", markup=False
            )
            if self.plan.destructive:
                yield Label(
                    "This interrupts service. Press y to confirm, n or Escape to cancel.", id="hint"
                )
            else:
                yield Label("Press Enter or y to confirm, n or Escape to cancel.", id="hint")
            with Horizontal(id="buttons"):
                yield Button(
                    "Yes (y)", id="yes", variant="error" if self.plan.destructive else "primary"
                )
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no" if self.plan.destructive else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_enter(self) -> None:
        focused = self.focused
        if isinstance(focused, Button):
            focused.press()
        elif not self.plan.destructive:
            self.dismiss(True)


class ErrorModal(ModalScreen[None]):
    """The one place errors are shown: a title and a message."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.error_title = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.error_title, id="title", markup=False)
            yield Static(self.message, id="text", markup=False)
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class NumberPrompt(ModalScreen[int | None]):
    """Ask for a whole number in a range; the problem is shown as it is typed."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, question: str, initial: int, low: int, high: int) -> None:
        super().__init__()
        self.prompt_title = title
        self.question = question
        self.initial = initial
        self.low, self.high = low, high

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.prompt_title, id="title", markup=False)
            yield Static(self.question, id="text", markup=False)
            yield Input(str(self.initial), id="number", type="integer")
            yield Label("", id="problem", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def check(self, text: str) -> str:
        if not text.strip().lstrip("-").isdigit():
            return "type a whole number"
        value = int(text)
        if not self.low <= value <= self.high:
            return f"must be between {self.low} and {self.high}"
        return ""

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#problem", Label).update(self.check(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.check(event.value):
            self.dismiss(int(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceModal(ModalScreen[str | None]):
    """Pick one of several options (a namespace, a version)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        options: Sequence[tuple[str, str]],
        current: str | None = None,
        note: str = "",
    ) -> None:
        super().__init__()
        self.choice_title = title
        self.options = list(options)
        self.current = current
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.choice_title, id="title", markup=False)
            if self.note:
                yield Static(self.note, id="text", markup=False)
            yield OptionList(*(Option(label, id=value) for value, label in self.options))

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        option_list.focus()
        for index, (value, _label) in enumerate(self.options):
            if value == self.current:
                option_list.highlighted = index

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextPrompt(ModalScreen[str | None]):
    """Ask for a short text checked by ``check`` (which returns the problem or "")."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, question: str, initial: str, check: Callable[[str], str]
    ) -> None:
        super().__init__()
        self.prompt_title = title
        self.question = question
        self.initial = initial
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.prompt_title, id="title", markup=False)
            yield Static(self.question, id="text", markup=False)
            yield Input(self.initial, id="answer")
            yield Label(self._check(self.initial), id="problem", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#problem", Label).update(self._check(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._check(event.value):
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
