"""What every dynamic provider here shares: typed inputs, provider settings, the API clients.

Typed inputs. Each resource declares its inputs as one ``ResourceArgs`` model (pydantic) and its
state (inputs + outputs) as a subclass. The program builds the args with keyword arguments, so a
misspelt or mistyped input fails at once, where it is written; Pulumi Outputs (and values still
unknown in a preview) pass through untouched where a field is ``Input[...]``.
The provider validates the resolved values again in ``check`` (Pulumi's place for input
validation), so a bad value fails the preview with the property's name.

Provider settings come from the stack config in ``configure`` (``dockerHost``, ``flyApiUrl``,
``flyApiToken`` with ``FLY_API_TOKEN`` winning, ``registryUsername``/``registryPassword``), as in
Pulumi's dynamic-provider guide (https://www.pulumi.com/docs/iac/concepts/resources/dynamic-providers/).
Each resource is a ``FleetResource``: Pulumi's ``(name, args, opts)``, with its outputs taken from
its state model, so they are declared once.

The SDK's provider server finds a dynamic resource's provider in a pickle among its properties
(``__provider``), which it unpickles and configures. Here that pickle names the provider object its
module holds (``serialized_provider``), so settings live on that object only in the provider
process, after the engine has configured it, and the API clients are shared by the whole process.
The program does not send it, and the state does not hold it: the project's provider server
(``server.py``) puts it in each call by the resource's type (``provider_of_type``), as the provider
can always rebuild it.
"""

from __future__ import annotations

import base64
import functools
import importlib
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, Resource, ResourceProvider
from pulumi.output import Unknown
from pydantic import BaseModel, ConfigDict, ValidationError, WrapValidator

from openclaw_fleet.credential_hosts import check_credential_host
from openclaw_fleet.environment import FLY_API_TOKEN
from openclaw_fleet.errors import FlyNotConfigured
from openclaw_fleet.providers.docker.client import DockerClient, docker_client
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.settings import DEFAULT_FLY_API_URL, default_docker_host, number

T = TypeVar("T")


def _outputs_pass(value: Any, validate: Any) -> Any:
    return value if isinstance(value, (pulumi.Output, Unknown)) else validate(value)


Input = Annotated[T, WrapValidator(_outputs_pass)]
"""A field that takes a plain value (validated as ``T``) or a Pulumi ``Output`` (passed as is)."""


class ResourceArgs(BaseModel):
    """Base of a resource's typed inputs (and, in subclasses, its state)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    omit_unset: ClassVar[bool] = False
    """True where an input left out must stay out (``props()`` then gives only the fields set)."""

    @classmethod
    def parse(cls, props: dict[str, Any]) -> Self:
        """The model of the fields of ``cls`` in ``props`` (engine properties); others are ignored.

        Raises pydantic.ValidationError. The engine hands every number over as a float; int
        fields take ``2.0`` as ``2``.
        """
        return cls.model_validate({key: value for key, value in props.items() if key in cls.model_fields})

    def props(self) -> dict[str, Any]:
        """Field name → value in declaration order, as the engine takes them: Outputs stay
        Outputs, nested args become dicts."""
        names = [name for name in type(self).model_fields if not self.omit_unset or name in self.model_fields_set]
        return {name: _prop(getattr(self, name)) for name in names}


def _prop(value: Any) -> Any:
    return value.props() if isinstance(value, ResourceArgs) else value


class FleetProvider(ResourceProvider):
    """Base of the providers: ``check`` validates ``args_type``; ``fly()`` and ``docker()`` give
    the process's API clients, configured from the stack."""

    args_type: ClassVar[type[ResourceArgs]]

    def configure(self, req: ConfigureRequest) -> None:
        check_credential_host("dockerHost", req.config.get("dockerHost"))
        check_credential_host("flyApiUrl", req.config.get("flyApiUrl"))
        self._docker_host = req.config.get("dockerHost") or default_docker_host()
        self._fly_api_url = req.config.get("flyApiUrl") or DEFAULT_FLY_API_URL
        self._fly_token = os.environ.get(FLY_API_TOKEN) or req.config.get("flyApiToken")
        self._registry_username = req.config.get("registryUsername")
        self._registry_password = req.config.get("registryPassword")
        self.command_timeout_s = number("commandTimeoutSeconds", req.config.get("commandTimeoutSeconds"))

    def __reduce__(self) -> str:
        return "PROVIDER"  # pickled as a reference to its module's PROVIDER (serialized_provider)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the new inputs against ``args_type``; unknown values (preview) are not judged."""
        try:
            self.args_type.parse(news)
        except ValidationError as error:
            failures = [
                CheckFailure(".".join(str(part) for part in problem["loc"]), problem["msg"])
                for problem in error.errors(include_input=False)
            ]
            return CheckResult(news, failures)
        return CheckResult(news, [])

    def fly(self) -> FlyClient:
        """The provider process's Fly Machines API client. Raises FlyNotConfigured without a token."""
        if not getattr(self, "_fly_token", None):
            raise FlyNotConfigured(
                "no Fly API token: set FLY_API_TOKEN or the config secret openclaw-fleet:flyApiToken"
            )
        url, token = self._fly_api_url, self._fly_token
        return _shared(("fly", url, token), lambda: FlyClient(url, token))

    def docker(self) -> DockerClient:
        """The provider process's Docker Engine API client."""
        host = getattr(self, "_docker_host", None) or default_docker_host()
        return _shared(("docker", host), lambda: docker_client(host))


_CLIENTS: dict[tuple[str, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _shared(key: tuple[str, ...], make: Callable[[], Any]) -> Any:
    """One client per API and address for the whole provider process, kept until it exits.

    The engine runs every dynamic resource's calls in one provider process, on several threads;
    httpx clients are thread-safe and pool their connections, while opening one per call cost a
    TLS context each time (tens of milliseconds of CPU) and a new connection to Fly.
    """
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = make()
        return _CLIENTS[key]


KINDS: dict[str, type[FleetResource]] = {}
"""Type token (``pulumi-python:dynamic/fly:App``) → the resource class, for every resource module
imported (``provider_of_type`` imports them all)."""


class FleetResource(Resource):
    """Base of the dynamic resources: ``Kind(resource_name, args, opts)``.

    A subclass names its ``dynamic_provider`` (its module's ``PROVIDER``) and ``state_type``; the
    resource's outputs are the fields of ``state_type`` that are not inputs. ``secret_outputs``
    are stored only as Pulumi secrets, in and out; ``delete_before_replace`` for objects whose
    name a replacement reuses.

    Its registration holds no ``__provider``, where ``pulumi.dynamic.Resource`` pickles the whole
    provider object into every resource: the provider server puts a reference to the object in
    each call (``provider_of_type``). Each subclass is listed in ``KINDS`` by its type token.
    """

    dynamic_provider: ClassVar[FleetProvider]
    state_type: ClassVar[type[ResourceArgs]]
    secret_outputs: ClassVar[tuple[str, ...]] = ()
    delete_before_replace: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        KINDS[f"pulumi-python:{cls._resource_type_name}"] = cls

    def __init__(self, resource_name: str, args: ResourceArgs, opts: pulumi.ResourceOptions | None = None):
        props = args.props()
        props.update((name, None) for name in self.state_type.model_fields if name not in type(args).model_fields)
        for name in self.secret_outputs:
            if props.get(name) is not None:
                props[name] = pulumi.Output.secret(props[name])
        if self.secret_outputs or self.delete_before_replace:  # most add nothing; merging walks every option
            own = pulumi.ResourceOptions(
                additional_secret_outputs=list(self.secret_outputs),
                delete_before_replace=self.delete_before_replace or None,
            )
            opts = pulumi.ResourceOptions.merge(opts, own)
        # pulumi.dynamic.Resource.__init__ only serializes the provider and then registers the
        # resource as a CustomResource of type pulumi-python:dynamic/<module>:<name>; the provider
        # server adds the provider (provider_of_type), so the registration is called directly.
        pulumi.CustomResource.__init__(
            self,
            f"pulumi-python:{self._resource_type_name}",
            resource_name,
            props,
            opts,
        )


@functools.cache
def provider_of_type(type_token: str) -> str | None:
    """The ``__provider`` property of the resources of ``type_token`` (``serialized_provider`` of
    its class's provider), or None for a type that is not one of this project's resources.

    Imports every module under ``openclaw_fleet/providers`` and ``compat`` first (about 40 ms), so that a run
    that only deletes or refreshes, with no resource of a type registered yet, finds it too.
    """
    root = Path(__file__).parent.parent
    for package in ("providers", "compat"):
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(("openclaw_fleet", *path.relative_to(root).with_suffix("").parts))
            if not module.endswith(("__init__", ".server")):  # server.py runs the server when imported
                importlib.import_module(module)
    kind = KINDS.get(type_token)
    return serialized_provider(kind.dynamic_provider) if kind else None


@functools.cache
def serialized_provider(provider: FleetProvider) -> str:
    """The ``__provider`` property of a resource: base64 of a pickle (protocol 0) that names the
    object its module holds as ``PROVIDER`` (``c<module>\\nPROVIDER\\n``), 60–70 characters.

    The SDK's provider server unpickles it with ``dill.loads`` and configures the object it gets
    (``get_provider`` in ``pulumi/dynamic/__main__.py``). The SDK's own ``serialize_provider``,
    which pickles the whole object, is not called: it overflows the stack after about 500
    resources (pulumi/pulumi#17803; ``sdk_workarounds.py``, "registered_without_pickled_provider").

    Raises ``pickle.PicklingError`` when ``provider`` is not its module's ``PROVIDER``.
    State written before holds the pickled object; it still unpickles (same classes).
    """
    return base64.b64encode(pickle.dumps(provider, protocol=0)).decode("ascii")
