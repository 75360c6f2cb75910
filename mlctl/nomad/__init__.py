"""A thin typed facade over python-nomad: one module per API resource.

``connect(settings)`` builds the client; every failure leaves it as an
:class:`~mlctl.errors.MlctlError` naming the HTTP method and path (see
:mod:`mlctl.nomad.errors`). Importing this package imports python-nomad and requests,
so CLI modules import it inside their commands.
"""

from __future__ import annotations

from mlctl.nomad.client import NomadClient, connect

__all__ = ["NomadClient", "connect"]
