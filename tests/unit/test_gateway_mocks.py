"""DockerGateway wiring under Pulumi's mocks: what the container is asked for."""

import json

import pulumi
import pytest

from tests.unit.conftest import RecordingMocks
from tests.unit.users import stack_settings, user

SECRET_SIG, SECRET_VALUE_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


class GatewayMocks(RecordingMocks):
    def outputs(self, args: pulumi.runtime.MockResourceArgs) -> dict:
        outputs = super().outputs(args)
        if args.typ.endswith(":GatewayToken"):
            outputs["token"] = "mock-token-value"
        if args.typ.endswith(":Container"):
            outputs.update(status=outputs["state"], gateway_url="http://127.0.0.1:1")
        return outputs


@pytest.fixture
def mocks() -> GatewayMocks:
    mocks = GatewayMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    return mocks


SETTINGS = stack_settings()
USER = user(
    id="user_2abc123def456",
    short_id="abc123def456",
    provider_keys={"OPENAI_API_KEY": "team-openai"},
    env={"TZ": "UTC"},
)


@pulumi.runtime.test
def test_container_gets_the_gateway_flags_mount_and_env(mocks):
    from openclaw_fleet.gateway import GatewayArgs, create_gateway

    instance = create_gateway(
        "automna-u-abc123def456",
        GatewayArgs(
            user=USER,
            image_ref="reg/openclaw-gateway@sha256:aa",
            settings=SETTINGS,
            provider_keys={"OPENAI_API_KEY": pulumi.Output.secret("sk-mock")},
        ),
    )

    def check(_):
        container = mocks.resources["automna-u-abc123def456|pulumi-python:dynamic/docker:Container"]
        assert container["command"] == ["gateway", "--allow-unconfigured", "--bind", "lan", "--auth", "token"]
        assert container["mount_path"] == "/home/node/.openclaw"
        volume = mocks.resources["automna-u-abc123def456|pulumi-python:dynamic/docker:Volume"]
        assert volume["name"] == "automna-u-abc123def456-data"
        assert container["volume_name"] == "automna-u-abc123def456-id"  # the volume resource's id
        # The env reaches the engine as a secret value (Pulumi's secret signature), never plain.
        assert container["env"][SECRET_SIG] == SECRET_VALUE_SIG
        assert container["env"]["value"] == {
            "TZ": "UTC",
            "OPENAI_API_KEY": "sk-mock",
            "OPENCLAW_GATEWAY_TOKEN": "mock-token-value",
            "OPENCLAW_STATE_DIR": "/home/node/.openclaw",
        }
        assert (container["cpus"], container["memory_mb"]) == (1, 2048)  # Fly's shared-cpu-1x, 2 GB
        assert container["labels"] == {
            "openclaw-fleet.stack": "openclaw-fleet/test",
            "openclaw-fleet.user": "user_2abc123def456",
        }
        config = json.loads(container["files"]["openclaw.json"])
        assert config["agents"]["defaults"]["model"]["primary"] == "openai/gpt-5.1"
        assert "mock-token-value" not in container["files"]["openclaw.json"]

    return pulumi.Output.all(instance.gateway_url, instance.instance_id).apply(check)
