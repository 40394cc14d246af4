"""What a Fly user's resources send the engine to record, as the program registers them (under
Pulumi's mocks, whose monitor gets the SDK's real requests): no declaration site, and the app
named by its name rather than by its URN, while the resources still come after it."""

import pulumi
import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.settings import SETTINGS

from openclaw_fleet.sdk_workarounds import without_declaration_sites
from tests.unit.conftest import RecordingMocks
from tests.unit.users import stack_settings, user

NAME = "automna-u-abc123def456"
FLY = stack_settings(target="fly")


class FlyMocks(RecordingMocks):
    def outputs(self, args: pulumi.runtime.MockResourceArgs) -> dict:
        outputs = super().outputs(args)
        if args.typ.endswith(":GatewayToken"):
            outputs["token"] = "mock-token-value"
        if args.typ.endswith(":AppSecrets"):
            outputs["version"] = 1
        if args.typ.endswith(":Machine"):
            outputs["instance_id"] = "01MOCK"
            outputs["status"] = "started"
        return outputs


@pytest.fixture
def requests(monkeypatch) -> dict:
    """The RegisterResource requests the monitor gets and the URNs it answers, by resource type,
    once the program's registration hooks are in place (the SDK's own functions are restored
    afterwards)."""
    pulumi.runtime.set_mocks(FlyMocks(), preview=False)
    monkeypatch.setattr(sdk_resource, "_get_stack_trace", sdk_resource._get_stack_trace)
    monkeypatch.setattr(sdk_resource, "_get_source_position", sdk_resource._get_source_position)
    seen: dict = {}
    register = SETTINGS.monitor.RegisterResource

    def record(request):
        response = register(request)
        seen[request.type.rpartition(":")[2]] = request
        seen[request.type.rpartition(":")[2] + " urn"] = response.urn
        return response

    SETTINGS.monitor.RegisterResource = record
    without_declaration_sites()
    return seen


def test_a_fly_user_registers_no_declaration_site_and_names_the_app_by_its_name(requests):
    from openclaw_fleet.gateway import GatewayArgs, create_gateway

    @pulumi.runtime.test  # runs the declaration and waits for every registration
    def declare():
        someone = user(id="user_2abc123def456", short_id="abc123def456")
        create_gateway(NAME, GatewayArgs(user=someone, image_ref="r@sha256:aa", settings=FLY))

    declare()
    kinds = ["GatewayToken", "App", "Volume", "AppSecrets", "Machine", "GatewayCommand"]
    assert {*kinds, "FlyGateway"} <= set(requests)
    urn = {kind: requests[kind + " urn"] for kind in kinds}
    for kind in [*kinds, "FlyGateway"]:
        request = requests[kind]
        assert not request.HasField("sourcePosition"), kind
        assert list(request.stackTrace.frames) == [], kind
    for kind in kinds:
        deps = {key: list(value.urns) for key, value in requests[kind].propertyDependencies.items()}
        # The app is named by its name: its URN is no input's dependency.
        assert all(urn["App"] not in urns for urns in deps.values()), (kind, deps)
    for kind in ("Volume", "AppSecrets"):  # created after the app all the same
        assert urn["App"] in requests[kind].dependencies, kind
    machine = {key: list(value.urns) for key, value in requests["Machine"].propertyDependencies.items()}
    assert urn["Volume"] in machine["config"] and machine["min_secrets_version"] == [urn["AppSecrets"]]
    assert set(requests["Machine"].dependencies) >= {urn["Volume"], urn["AppSecrets"]}
