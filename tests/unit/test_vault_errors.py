"""The one hvac/requests -> MlctlError mapper: classes, statuses, and no URL or secret."""

from __future__ import annotations

import hvac.exceptions as hvac_exc
import pytest
import requests

from mlctl.errors import ExitStatus
from mlctl.vault.errors import translate, vault_errors

ADDR = "https://vault.example:8200"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (hvac_exc.Forbidden(errors=["permission denied"]), ExitStatus.PERMISSION),
        (hvac_exc.Unauthorized(errors=["nope"]), ExitStatus.AUTH),
        (hvac_exc.InvalidPath(errors=[]), ExitStatus.NOT_FOUND),
        (hvac_exc.InvalidRequest(errors=["missing password"]), ExitStatus.INVALID),
        (hvac_exc.VaultDown(errors=["Vault is sealed"]), ExitStatus.UNREACHABLE),
        (hvac_exc.InternalServerError(errors=["boom"]), ExitStatus.UNREACHABLE),
        (requests.exceptions.ConnectionError("refused"), ExitStatus.UNREACHABLE),
        (requests.exceptions.ReadTimeout("slow"), ExitStatus.UNREACHABLE),
    ],
)
def test_each_failure_gets_its_status(error, status):
    mapped = translate(error, "do a thing", ADDR)
    assert mapped is not None and mapped.status == status
    assert mapped.message.startswith("do a thing")


def test_tls_failures_name_the_ca_setting():
    mapped = translate(requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), "x", ADDR)
    assert mapped is not None
    assert "TLS" in mapped.message and "VAULT_CACERT" in mapped.one_line()
    assert "--ca-cert" in mapped.one_line()


def test_messages_carry_vault_errors_but_not_the_request_url():
    error = hvac_exc.InvalidRequest(
        errors=["invalid username or password"],
        method="post",
        url="https://vault.example:8200/v1/auth/userpass/login/alice",
    )
    mapped = translate(error, "log in", ADDR)
    assert mapped is not None
    assert "invalid username or password" in mapped.message
    assert "/v1/auth/userpass/login/alice" not in mapped.one_line()


def test_unknown_exceptions_pass_through():
    assert translate(ValueError("bug"), "x", ADDR) is None
    with pytest.raises(ValueError), vault_errors("x", ADDR):
        raise ValueError("bug")
