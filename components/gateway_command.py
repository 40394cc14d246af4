"""One-off commands inside a user's running gateway: seed 002's post-provision operations.

pulumi-command's provider plugin cannot be built here (see the README), so this small dynamic
provider runs the command itself: ``docker exec`` (Engine API ``/containers/{id}/exec``) on the
Docker target, ``POST /apps/{app}/machines/{id}/exec`` (``command``, ``timeout``) on Fly.

- ``openclaw models set <model>``: on creation and whenever the user's model changes (seed 002:
  the env alone does not win over a persisted default model).
- ``openclaw pairing approve telegram <code>``: once per code listed in the roster; UserInstance
  chains them so a machine never runs two at a time (seed 002's anti-concurrency rule). A failed
  approval fails the run and is not retried by the provider.

Inputs: ``target`` (docker/fly), ``container`` (Docker container id) or ``app`` + ``machine_id``,
``command`` (argv), ``user_id``, ``state`` (the user's running/stopped) and ``once`` (run at most
once, for pairing approvals). A command waits while the user is stopped and runs at the next start;
otherwise any change of the command or of the container/machine runs it again (an update), unless
``once`` and it already ran. Outputs: ``ran`` (bool), ``output`` (its last 500 characters).
Deleting it does nothing.
"""

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, UpdateResult

from components.docker.client import DockerError
from components.fly.client import FlyError
from components.targets import GatewayTargetProvider

EXEC_TIMEOUT_S = 120


class GatewayCommandProvider(GatewayTargetProvider):
    """Runs ``command`` in the gateway; see the module docstring."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['user_id']}:{' '.join(props['command'])}", outs=self._maybe_run({}, props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._maybe_run(olds, news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("command", "container", "machine_id", "state")
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys), replaces=[])

    def _maybe_run(self, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        ran, output = olds.get("ran", False), olds.get("output")
        if news["state"] != "running" or (news.get("once") and ran and olds.get("command") == news["command"]):
            return {**news, "ran": ran, "output": output}
        return {**news, "ran": True, "output": self._run(news)}

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the command ran."""

    def _run(self, props: dict[str, Any]) -> str:
        command, user = props["command"], props["user_id"]
        if props["target"] == "fly":
            path = f"/apps/{props['app']}/machines/{props['machine_id']}/exec"
            with self.fly() as fly:
                answer = fly.call("POST", path, json={"command": command, "timeout": EXEC_TIMEOUT_S},
                                  timeout=EXEC_TIMEOUT_S + 30) or {}
            code, output = answer.get("exit_code", 0), (answer.get("stdout") or "") + (answer.get("stderr") or "")
        else:
            with self.docker() as docker:
                code, output = docker.exec_run(props["container"], command)
        if code != 0:
            error = FlyError if props["target"] == "fly" else DockerError
            raise error("POST", "exec", 500, f"`{' '.join(command)}` for user {user} exited {code}: {output[-500:]}")
        return output[-500:]


class GatewayCommand(Resource, module="fleet", name="GatewayCommand"):
    """A command run once in a user's gateway, and again when its inputs change."""

    output: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(GatewayCommandProvider(), resource_name, {**props, "ran": None, "output": None}, opts)
