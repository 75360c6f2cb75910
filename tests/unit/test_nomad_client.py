"""Building the Nomad client from settings: address, TLS, client certificates, token."""

from __future__ import annotations

import pytest

from mlctl import endpoint, redact
from mlctl.errors import ConfigError
from mlctl.nomad import connect
from mlctl.nomad.client import normalise_address
from mlctl.settings import Settings


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:4646", "http://127.0.0.1:4646"),
        ("https://nomad.example.com:4646/", "https://nomad.example.com:4646"),
        ("https://lb.example.com/nomad/", "https://lb.example.com/nomad"),
    ],
)
def test_addresses_are_normalised(given, expected):
    assert normalise_address(given) == expected


@pytest.mark.parametrize("bad", ["127.0.0.1:4646", "ftp://host", "https://", ""])
def test_bad_addresses_are_config_errors_naming_the_setting(bad):
    with pytest.raises(ConfigError, match="nomad_addr") as caught:
        normalise_address(bad)
    assert "NOMAD_ADDR" in (caught.value.hint or "")


def test_tls_is_verified_by_default_and_uses_the_ca_bundle(tmp_path):
    plain = connect(Settings(nomad_addr="https://n:4646"))
    assert plain.transport.api.requester_settings["verify"] is True
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with_ca = connect(Settings(nomad_addr="https://n:4646", nomad_cacert=str(ca)))
    assert with_ca.transport.api.requester_settings["verify"] == str(ca)


def test_missing_ca_bundle_is_a_config_error():
    with pytest.raises(ConfigError, match=r"nomad_cacert: /no/such/ca\.pem: no such file"):
        connect(Settings(nomad_addr="https://n:4646", nomad_cacert="/no/such/ca.pem"))


def test_skip_verify_warns_once(capsys, monkeypatch):
    monkeypatch.setattr(endpoint, "_warned_insecure", set())
    settings = Settings(nomad_addr="https://n:4646", nomad_skip_verify=True)
    first = connect(settings)
    connect(settings)
    assert first.transport.api.requester_settings["verify"] is False
    assert capsys.readouterr().err.count("TLS verification for Nomad is off") == 1


def test_client_certificate_needs_its_key():
    with pytest.raises(ConfigError, match="together"):
        connect(Settings(nomad_client_cert="/c.pem"))
    pair = connect(Settings(nomad_client_cert="/c.pem", nomad_client_key="/k.pem"))
    assert pair.transport.api.requester_settings["cert"] == ("/c.pem", "/k.pem")


def test_token_is_registered_as_a_secret():
    client = connect(Settings(nomad_token="0f1e2d3c-secret-token"))
    assert client.transport.ctx.token_sent
    assert "0f1e2d3c-secret-token" not in redact.scrub("token 0f1e2d3c-secret-token")


def test_namespace_and_region_come_from_settings():
    client = connect(Settings(nomad_namespace="team-a", nomad_region="eu"))
    assert client.namespace == "team-a"
    assert client.transport.api.requester_settings["region"] == "eu"
