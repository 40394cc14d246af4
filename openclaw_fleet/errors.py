"""Every exception openclaw-fleet raises on purpose, in one place.

Each type says what failed, so an operator knows where to look: the Fly Machines API
(``FlyApiError`` for a real HTTP answer, ``FlyUnreachable`` when there was none), the Docker
engine (``DockerApiError``, ``DockerUnreachable``), a gateway (``GatewayNotReady``,
``ResourceInitFailed``, ``GatewayCommandFailed``), a volume snapshot (``SnapshotError``), the
roster (``RosterError``), the stack's settings (``SettingsError``), the ``fleet`` command's own
checks before any stack runs (``CannotRun``), an SDK the workarounds were not verified on
(``SdkNotVerified``), or the GitLab plan note (``NoteFailed``). The ``fleet`` command exits 2 on
any of them found before a stack ran.
An HTTP status appears only where an HTTP answer carried it. No message holds a request body, a
token or a secret value.
"""

from __future__ import annotations


class FleetError(Exception):
    """Base of the errors below."""


class FlyApiError(FleetError):
    """The Fly Machines API answered a call with an error status.

    Attributes: ``method``, ``path`` (no query string), ``status`` (the HTTP status), ``message``
    (Fly's ``error`` field), ``request_id`` (the ``fly-request-id`` header, when there was one) and
    ``retry_after`` (seconds, from a 429's ``Retry-After``). Following superfly/fly-go's
    ``flaps`` errors, it is raised only for real HTTP answers.
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        message: str,
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        self.method, self.path, self.status, self.message = method, path, status, message
        self.request_id, self.retry_after = request_id, retry_after
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(f"Fly {method} {path}: {status} {message}{suffix}")


class FlyUnreachable(FleetError):
    """A Fly Machines API call got no answer (could not connect, or the connection broke).

    Attributes: ``method``, ``path``, ``reason`` (e.g. ``could not connect: ConnectError``).
    """

    def __init__(self, method: str, path: str, reason: str):
        self.method, self.path, self.reason = method, path, reason
        super().__init__(f"Fly {method} {path}: no answer ({reason})")


class FlyAnswerLost(FlyUnreachable):
    """The connection broke after a call that is not safe to repeat was sent: it may or may not
    have taken effect, so the caller looks for what it may have made before trying again."""


class FlyNotConfigured(FleetError):
    """The Fly API cannot be called: no token is set (``FLY_API_TOKEN`` or the config secret
    ``openclaw-fleet:flyApiToken``)."""


class DockerApiError(FleetError):
    """The Docker engine answered a call with an error status.

    Attributes: ``method``, ``path`` (no query string), ``status``, ``message`` (the engine's
    ``message`` field). Never holds request bodies, so the env sent to a container cannot leak.
    """

    def __init__(self, method: str, path: str, status: int, message: str):
        self.method, self.path, self.status, self.message = method, path, status, message
        super().__init__(f"Docker {method} {path}: {status} {message}")


class DockerUnreachable(FleetError):
    """A Docker engine call got no answer in time: the engine could not be reached, or it did not
    answer within the call's timeout. Attributes: ``method``, ``path``, ``reason``."""

    def __init__(self, method: str, path: str, reason: str):
        self.method, self.path, self.reason = method, path, reason
        super().__init__(f"Docker {method} {path}: no answer ({reason})")


class GatewayNotReady(FleetError):
    """A user's gateway did not become ready (Docker: ``GET /health`` 200; Fly: the machine
    ``started`` with passing checks, or ``stopped``) in time; the message says what was seen."""


class ResourceInitFailed(FleetError):
    """A resource was made (or changed) but did not come up: Pulumi's "initialization failed".

    Attributes: ``resource_id`` (what the resource is known by, e.g. the machine id), ``outs``
    (its outputs, as create or update would return them) and ``reason`` (the error that says what
    was seen, e.g. ``GatewayNotReady``; the message is its message). The provider server
    (``providers/server.py``) reports it to the engine as ``pulumirpc.ErrorResourceInitFailed``,
    so the resource is recorded with the failure and the next ``up`` updates it
    (pulumi/pulumi ``proto/pulumi/provider.proto``).
    """

    def __init__(self, resource_id: str, outs: dict, reason: Exception):
        self.resource_id, self.outs, self.reason = resource_id, outs, reason
        super().__init__(str(reason))


class GatewayCommandFailed(FleetError):
    """A command run inside a user's gateway (e.g. ``openclaw models set``) exited non-zero;
    the message has its exit code and the end of its output."""


class BaseImageRefused(FleetError):
    """A production stack's ``baseImage`` is not pinned by digest, or comes from a registry host
    that is not allowed (``base_image.py``); nothing was built or changed."""


class CredentialHostRefused(FleetError):
    """In CI, a stack setting would send a credential (the Fly token, a registry password) to a
    host that is neither Fly's nor allowed outside the repository (``credential_hosts.py``)."""


class HeldByAnother(FleetError):
    """What a user's gateway would be made of already exists and holds someone's data (a Fly app
    with a volume or machine, a Docker volume labelled for another user), and the roster does not
    say ``adopt: true``: taking it over would hand that data to this user."""


class SnapshotError(FleetError):
    """Saving a volume before deletion, or restoring one, failed or found no snapshot."""


class SettingsError(FleetError, ValueError):
    """A stack setting is missing, unreadable or out of range; the message names the file and key."""


class CannotRun(FleetError):
    """The ``fleet`` command found, before any stack ran, why it must not run (exit status 2): a
    shard count that moves users, CI shard jobs that are not the stack's shards, no such shard."""


class SdkNotVerified(FleetError):
    """The installed Pulumi SDK is not a release the SDK workarounds were verified on (``sdk_workarounds.py``)."""


class NoteFailed(FleetError):
    """The merge request's plan note could not be posted (``cli/notes.py``); the message says which call failed."""


class RosterError(FleetError, ValueError):
    """An invalid roster; ``problems`` holds one ``file:line: field: message`` per problem.

    Messages never echo a field's value: a mistyped secret must not reach a log.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid roster:\n  " + "\n  ".join(problems))
