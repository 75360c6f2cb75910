"""Evaluations: what the scheduler decided for a registration."""

from __future__ import annotations

from typing import cast

from mlctl.nomad.transport import Transport
from mlctl.nomad.types import Evaluation


class Evaluations:
    """``/v1/evaluation/:id``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(self, eval_id: str, index: int = 0, wait: float = 10.0) -> tuple[Evaluation, int]:
        data, new_index = self._t.blocking("evaluation", eval_id, index=index, wait=wait)
        return cast(Evaluation, data), new_index
