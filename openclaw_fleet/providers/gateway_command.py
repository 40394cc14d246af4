"""``fleet:GatewayCommand``: a one-off command inside a user's running gateway.

The post-provision operations of a hosted gateway:

- ``openclaw models set <model>``, on creation and whenever the user's model changes: the model a
  gateway persisted in its state wins over the environment, so the config alone does not switch
  an existing gateway (OpenClaw: https://docs.openclaw.ai/cli/models);
- ``openclaw pairing approve telegram <code>``, once per code listed in the roster; the gateway
  component chains the commands so a gateway never runs two at a time (concurrent CLI writes to
  one state dir race).

pulumi-command's provider plugin cannot be built here (see the README), so this small provider
runs the command itself: Docker exec (Engine API ``/containers/{id}/exec``) on the Docker target,
``POST /apps/{app}/machines/{id}/exec`` on Fly. A command waits while the user is stopped and
runs at the next start; otherwise any change of the command or of the container/machine runs it
again, unless ``once`` and it already ran. A failure fails the run; deleting does nothing.
On Fly, an exec call whose answer was lost (connection dropped after the request) is sent
again for a command without ``once``, which runs again on every change and so must be safe to
repeat (``models set``); never for a ``once`` command (a pairing code is used up), whose run
fails instead with FlyAnswerLost.

Deadline: ``openclaw models set`` takes 20–45 s on a quiet host and more on a busy one, so a
command gets the stack setting ``commandTimeoutSeconds`` (default 300). It runs under coreutils'
``timeout`` inside the gateway, so at the deadline the command itself is stopped (TERM, then KILL
10 s later) rather than left running while a rerun starts the next one; the API call waits that
long plus a margin. Past it the error says so, with the command's last output.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, UpdateResult

from openclaw_fleet.errors import DockerUnreachable, GatewayCommandFailed
from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs

KILL_AFTER_S = 10  # after the deadline's TERM, KILL
API_MARGIN_S = KILL_AFTER_S + 20  # the exec call outlasts the command
TIMED_OUT = (124, 137)  # timeout(1): the deadline passed (137: it had to KILL)
DIFF_FIELDS = ("command", "container", "machine_id", "state")


class GatewayCommandArgs(ResourceArgs):
    """Inputs: ``target`` and where the gateway runs (Docker ``container`` id, or Fly ``app`` +
    ``machine_id``), ``command`` (argv), ``user_id``, ``state`` (the user's run state) and
    ``once`` (run at most once, for pairing approvals). A Docker command has no ``app`` or
    ``machine_id`` input and a Fly one no ``container``."""

    omit_unset = True

    target: Literal["docker", "fly"]
    container: Input[str] | None = None
    app: Input[str] | None = None
    machine_id: Input[str] | None = None
    command: list[str]
    user_id: str
    state: Literal["running", "stopped"]
    once: bool = False


class GatewayCommandState(GatewayCommandArgs):
    """The inputs, whether it ``ran`` and the last 500 characters of its ``output``."""

    ran: bool = False
    output: str | None = None


class GatewayCommandProvider(FleetProvider):
    """Runs the command; see the module docstring. Id: ``<user id>:<command>``."""

    args_type = GatewayCommandArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = GatewayCommandArgs.parse(props)
        return CreateResult(f"{args.user_id}:{' '.join(args.command)}", outs=self._maybe_run(None, args))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._maybe_run(GatewayCommandState.parse(olds), GatewayCommandArgs.parse(news)))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=any(olds.get(key) != news.get(key) for key in DIFF_FIELDS), replaces=[])

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the command ran."""

    def _maybe_run(self, old: GatewayCommandState | None, args: GatewayCommandArgs) -> dict[str, Any]:
        ran, output = (old.ran, old.output) if old else (False, None)
        if args.state == "running" and not (args.once and ran and old.command == args.command):
            ran, output = True, self._run(args)
        return GatewayCommandState(**args.props(), ran=ran, output=output).props()

    def _run(self, args: GatewayCommandArgs) -> str:
        shown = " ".join(args.command)
        deadline = getattr(self, "command_timeout_s", 300)
        argv = ["timeout", f"--kill-after={KILL_AFTER_S}", str(deadline), *args.command]
        if args.target == "fly":
            # A command without ``once`` runs again whenever its inputs change, so it is safe to
            # repeat after a lost answer; a ``once`` one (a pairing code) is not.
            result = self.fly().exec(args.app, args.machine_id, argv, deadline + API_MARGIN_S, idempotent=not args.once)
            code, output = result.exit_code, result.stdout + result.stderr
        else:
            try:
                code, output = self.docker().exec_run(args.container, argv, timeout_s=deadline + API_MARGIN_S)
            except DockerUnreachable as error:
                raise GatewayCommandFailed(
                    f"`{shown}` in the gateway of user {args.user_id}: the Docker engine did not answer "
                    f"({error.reason})"
                ) from None
        if code in TIMED_OUT:
            last = output[-300:].strip() or "(none)"
            raise GatewayCommandFailed(
                f"`{shown}` in the gateway of user {args.user_id} did not finish within {deadline} s "
                f"(stack setting commandTimeoutSeconds) and was stopped; last output: {last}"
            )
        if code != 0:
            raise GatewayCommandFailed(
                f"`{shown}` in the gateway of user {args.user_id} exited {code}: {output[-500:]}"
            )
        return output[-500:]


PROVIDER = GatewayCommandProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class GatewayCommand(FleetResource, module="fleet", name="GatewayCommand"):
    """A command run once in a user's gateway, and again when its inputs change."""

    dynamic_provider, state_type = PROVIDER, GatewayCommandState
    output: pulumi.Output[str]
