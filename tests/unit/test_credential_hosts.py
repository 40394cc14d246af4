"""In CI, the stack file cannot choose where the fleet's credentials are sent."""

import pytest

from openclaw_fleet.credential_hosts import check_credential_host
from openclaw_fleet.errors import CredentialHostRefused

CI = {"CI": "true"}


@pytest.mark.parametrize(
    "setting, value",
    [
        ("flyApiUrl", "https://api.machines.dev"),
        ("flyApiUrl", None),
        ("registry", "registry.fly.io/openclaw-fleet-images"),
        ("dockerHost", "unix:///var/run/docker.sock"),
    ],
)
def test_flys_own_hosts_and_the_local_socket_are_allowed_in_ci(setting, value):
    check_credential_host(setting, value, CI)


@pytest.mark.parametrize(
    "setting, value",
    [
        ("flyApiUrl", "http://127.0.0.1:4999"),
        ("flyApiUrl", "https://api.machines.dev.evil.example"),
        ("flyApiUrl", "https://evil.example/api.machines.dev"),
        ("dockerHost", "tcp://203.0.113.5:2375"),
        ("registry", "127.0.0.1:5000"),
        ("registry", "registry.fly.io.evil.example/x"),
    ],
)
def test_any_other_host_is_refused_in_ci_unless_allowed_outside_the_repository(setting, value):
    with pytest.raises(CredentialHostRefused, match=f"openclaw-fleet:{setting} sends credentials to"):
        check_credential_host(setting, value, CI)
    check_credential_host(setting, value, {})  # outside CI the workstation's own settings are its business


def test_the_allow_list_takes_hosts_or_host_and_port():
    allow_any_port = {**CI, "OPENCLAW_FLEET_ALLOWED_HOSTS": "127.0.0.1, fly.internal"}
    check_credential_host("flyApiUrl", "http://127.0.0.1:4280", allow_any_port)
    check_credential_host("registry", "127.0.0.1:5000", allow_any_port)
    one_port = {**CI, "OPENCLAW_FLEET_ALLOWED_HOSTS": "127.0.0.1:4280"}
    check_credential_host("flyApiUrl", "http://127.0.0.1:4280", one_port)
    with pytest.raises(CredentialHostRefused):
        check_credential_host("flyApiUrl", "http://127.0.0.1:4281", one_port)
