"""What a pull request could try against the fleet, refused before anything is made or sent.

Each attack is a roster or a stack setting a PR could carry, run through the ``fleet`` command
(and, where it matters, plain ``pulumi preview``) on the real engine: a provider key that would
read the Fly token or the state passphrase, another user's key, a source nobody declared; a Fly
API URL pointing at another local port while the Fly token is in the environment (``CI=true``);
a case variant of a departed user's id, which would inherit that user's gateway and data; and
``CI=true`` with no backend, which would plan against a fresh, empty state.
"""

from __future__ import annotations

import http.server
import json
import os
import secrets
import subprocess
import sys
import threading
from typing import ClassVar

import pytest

from tests.integration.fleet import ROOT, Fleet

pytestmark = pytest.mark.integration

ADA, GRACE = "user_2attack0ada01", "user_2attack0grace"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, emulator):
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("attacks"), emulator)
    fleet.set_secret("adaOpenai", "sk-ada-" + secrets.token_hex(16))
    fleet.declare_source("ada-openai", "config", "adaOpenai", [ADA])
    yield fleet
    fleet.fleet("destroy", "--yes")


def roster_with(provider_keys: dict | None = None, ada_id: str = ADA, **ada) -> dict:
    grace = {"id": GRACE, "name": "Grace", **({"providerKeys": provider_keys} if provider_keys else {})}
    return {"users": [{"id": ada_id, "name": "Ada", **ada}, grace]}


def resources(fleet: Fleet) -> list[str]:
    exported = json.loads(fleet.run("stack", "export", record=False))
    return [resource["type"] for resource in exported["deployment"].get("resources") or []]


@pytest.mark.parametrize(
    "reference, words",
    [
        ("env:FLY_API_TOKEN", "must name a secret source the stack declares"),
        ("env:PULUMI_CONFIG_PASSPHRASE", "must name a secret source the stack declares"),
        ("config:flyApiToken", "must name a secret source the stack declares"),
        ("ada-openai", "declares for other users only"),
        ("made-up", "does not declare"),
    ],
)
def test_a_roster_cannot_name_a_credential_another_users_key_or_an_undeclared_source(fleet, reference, words):
    fleet.write_roster(roster_with({"OPENAI_API_KEY": reference}))
    result = fleet.fleet("preview")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{fleet.roster}:7: users" in result.stderr and "providerKeys.OPENAI_API_KEY" in result.stderr
    assert words in result.stderr
    assert resources(fleet) == []
    # Plain `pulumi preview` runs the same checks in the program.
    plain = fleet.run("preview", check=False)
    assert "providerKeys.OPENAI_API_KEY" in plain and words in plain
    for secret in (fleet.env["PULUMI_CONFIG_PASSPHRASE"], fleet.env["FLY_API_TOKEN"]):
        assert secret not in result.stdout + result.stderr + plain


@pytest.mark.parametrize("variable", ["FLY_API_TOKEN", "PULUMI_CONFIG_PASSPHRASE"])
def test_the_stack_file_cannot_declare_a_credential_as_a_source_either(fleet, variable):
    fleet.declare_source("stolen", "env", variable)
    try:
        fleet.write_roster(roster_with({"OPENAI_API_KEY": "stolen"}))
        result = fleet.fleet("preview")
        assert result.returncode == 2
        assert (
            "openclaw-fleet:secretSources.stolen.env: must name a variable starting with OPENCLAW_KEY_" in result.stderr
        )
        assert resources(fleet) == []
    finally:
        fleet.run("config", "rm", "--path", 'openclaw-fleet:secretSources["stolen"]')


class Trap(http.server.BaseHTTPRequestHandler):
    """A local server standing for another host: records the Authorization header of each request."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self):
        Trap.seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_GET  # noqa: N815 (http.server calls it by this name)

    def log_message(self, *_):
        pass


def test_in_ci_a_fly_api_url_at_another_port_receives_no_request_carrying_the_token(fleet, emulator):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trap_url = f"http://127.0.0.1:{server.server_address[1]}"
    emulator_port = emulator.url.rsplit(":", 1)[1]
    fleet.run("config", "set", "openclaw-fleet:flyApiUrl", trap_url)
    ci = {**fleet.env, "CI": "true", "OPENCLAW_FLEET_ALLOWED_HOSTS": f"127.0.0.1:{emulator_port},127.0.0.1:5000"}
    saved, fleet.env = fleet.env, ci
    try:
        fleet.write_roster(roster_with())
        result = fleet.fleet("preview")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "openclaw-fleet:flyApiUrl sends credentials to '127.0.0.1'" in result.stderr
        plain = fleet.run("preview", check=False)  # the providers refuse it too, before any call
        assert "openclaw-fleet:flyApiUrl sends credentials to" in plain
    finally:
        fleet.env = saved
        fleet.run("config", "set", "openclaw-fleet:flyApiUrl", emulator.url)
        server.shutdown()
    assert [header for header in Trap.seen if header and saved["FLY_API_TOKEN"] in header] == []
    assert resources(fleet) == []


def test_a_case_variant_of_a_departed_users_id_is_refused_naming_both(fleet):
    departing = "user_2ATTACK0ADA01"  # the same short id as ADA, lowercased
    fleet.write_roster(roster_with(ada_id=departing, deprovision="retain"))
    result = fleet.fleet("up")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    fleet.write_roster({"users": [{"id": GRACE, "name": "Grace"}]})
    assert fleet.fleet("up").returncode == 0  # the departing user leaves, their volume kept
    fleet.write_roster(roster_with())  # ADA: a new user whose id differs only in case
    refused = fleet.fleet("preview")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"{fleet.roster}:2: users.{ADA}: would get gateway" in refused.stderr
    assert f"of user {departing}, who left with their data kept" in refused.stderr
    plain = fleet.run("preview", check=False)
    assert f"users.{ADA}: would get gateway" in plain and departing in plain
    fleet.write_roster(roster_with(adopt=True))  # said on purpose, and shown to the reviewer
    assert fleet.fleet("preview").returncode == 0


def test_in_ci_no_backend_is_an_error_not_a_fresh_local_state(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PULUMI_BACKEND")}
    result = subprocess.run(
        [str(ROOT / "bin" / "fleet"), "preview"], cwd=ROOT, env={**env, "CI": "true"}, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "CI=true and PULUMI_BACKEND_URL is not set" in result.stderr
    result = subprocess.run(
        [str(ROOT / "bin" / "fleet"), "preview"],
        cwd=ROOT,
        env={**env, "CI": "true", "PULUMI_BACKEND_URL": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2  # an empty secret is no backend either


def test_in_ci_a_stack_that_is_not_there_is_refused_not_created(tmp_path, emulator):
    """A pull request that renames the project in Pulumi.yaml, or a CI pointed at another backend,
    would plan every user as new: in CI the fleet creates no stack unless told."""
    fleet = Fleet.for_fly(tmp_path, emulator, shards="2")
    fleet.write_roster(roster_with())
    ci = {**fleet.env, "CI": "true"}
    command = [sys.executable, "-m", "openclaw_fleet.cli", "preview", "--stack", fleet.stack]
    refused = subprocess.run(command, cwd=fleet.dir, env=ci, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert f"stack {fleet.stack}-shard-1-of-2" in refused.stderr and "--create-stacks" in refused.stderr
    listed = [row["name"] for row in json.loads(fleet.run("stack", "ls", "--json", record=False))]
    assert listed == [fleet.stack]  # nothing was created
    told = subprocess.run(
        [*command, "--create-stacks"], cwd=fleet.dir, env=ci, capture_output=True, text=True, timeout=600
    )
    assert told.returncode == 0, told.stderr[-2000:]
