"""A fleet past the size where the SDK's provider serialization used to overflow the stack (about
the 496th dynamic resource: 53 users of 9 then, about 83 of the 6 a user has now), a converged
fleet that a second ``up`` leaves alone, and what its checkpoint holds per user."""

import json
import secrets

import pytest

from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

USERS = 90
WRITING = {"POST", "PUT", "PATCH", "DELETE"}


def test_ninety_users_preview_up_and_a_second_up_changes_nothing(tmp_path):
    emulator = Emulator(tokens=("fly-scale-" + secrets.token_hex(16),), timing=Timing(start_s=0.3)).start()
    fleet = Fleet.for_fly(tmp_path, emulator)
    try:
        fleet.write_roster({"users": [{"id": f"user_2scale{i:06d}", "name": f"User {i}"} for i in range(USERS)]})
        # a user: the gateway component and 6 resources; then the stack, the image component, the image
        assert len(fleet.preview_changes()) == USERS * 7 + 3
        fleet.up()
        assert len(emulator.state.apps) == USERS
        checkpoint_holds_no_declaration_site_or_provider(fleet.state_text())

        assert fleet.preview_changes() == []
        mark = len(emulator.calls)
        fleet.up()
        assert [call for call in emulator.calls[mark:] if call["method"] in WRITING] == []
    finally:
        fleet.remove_stack()
        emulator.stop()


def checkpoint_holds_no_declaration_site_or_provider(text: str) -> None:
    """No resource records where it was declared (the same lines for every user) or its pickled
    provider (the provider server adds it by type), its outputs repeat none of its inputs (the
    provider server's doing) and hold nothing a provider rebuilds from them, and a user takes at
    most 10 KB of the checkpoint as JSON (0.35 KB more with the machine's config keys and mounts,
    the secrets' names and the component's outputs stored, 0.6 KB more again with the provider in
    the inputs, 1.4 KB more again when the outputs repeated the inputs, and more with source
    positions and the app's URN among its children's dependencies)."""
    checkpoint = json.loads(text)
    resources = checkpoint["checkpoint"]["latest"]["resources"]
    for resource in resources:
        if resource["type"] != "pulumi:pulumi:Stack":  # registered before the program's own code runs
            assert "sourcePosition" not in resource and "stackTrace" not in resource, resource["urn"]
        inputs, outputs = resource.get("inputs") or {}, resource.get("outputs") or {}
        assert "__provider" not in inputs and "__provider" not in outputs, resource["urn"]
        if resource["custom"] and not resource["type"].startswith("pulumi:providers:"):  # the engine's own
            repeated = sorted(
                key for key, value in outputs.items() if key in inputs and (inputs[key] == value or is_secret(value))
            )
            assert repeated == [], f"{resource['urn']}: outputs repeat the inputs {repeated}"
        # nor what a provider rebuilds from the inputs, nor a gateway's values again on its component
        assert not {"config_keys", "mounts", "names"} & set(outputs), resource["urn"]
        if resource["type"] == "openclaw:fleet:FlyGateway":
            assert outputs == {}, resource["urn"]
    size = len(json.dumps(checkpoint, separators=(",", ":")))
    assert size / USERS <= 10_240, f"{size / USERS:.0f} bytes a user"


def is_secret(value) -> bool:
    """A secret as the checkpoint stores it: its ciphertext under Pulumi's secret signature (two
    encryptions of one value differ, so a repeated secret is found by its key)."""
    return isinstance(value, dict) and "4dabf18193072939515e22adb298388d" in value
