"""Base of the providers that reach a user's gateway on either target (token adoption, commands)."""

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from components.docker.client import DockerClient, DockerProvider
from components.fly.client import FlyClient, FlyProvider


class GatewayTargetProvider(ResourceProvider):
    """Configured like both the Docker and the Fly providers; ``docker()`` / ``fly()`` open a client."""

    def __init__(self) -> None:
        self._docker, self._fly = DockerProvider(), FlyProvider()

    def configure(self, req: ConfigureRequest) -> None:
        self._docker.configure(req)
        self._fly.configure(req)

    def docker(self) -> DockerClient:
        return self._docker.docker()

    def fly(self) -> FlyClient:
        return self._fly.fly()
