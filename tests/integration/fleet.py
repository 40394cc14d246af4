"""Drive a throwaway copy of the project through the real Pulumi CLI (local file backend).

``Fleet`` copies the program into a temp dir, with its own stack, backend, passphrase, roster and
name prefix, so a test run never touches the dev stack; everything a command prints is kept in
``Fleet.transcript`` for the secret scan.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import yaml

from openclaw_fleet.environment import RELEASE as RELEASE_ENV
from openclaw_fleet.providers.docker.client import docker_client
from tools.fly_emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
LOCAL_REGISTRY = "127.0.0.1:5000"  # bin/setup starts it
LOCAL_BASE_IMAGE = "openclaw-fleet/node:24.21.0"  # bin/setup builds it
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "openclaw_fleet", "components", "image")


def program_of(commit: str, where: Path, *paths: str) -> Path:
    """Unpack ``paths`` of the program at ``commit`` from git into ``where``, with today's ``image/``
    (the image is not what those tests compare, and another build context would rightly update
    every gateway); return ``where``. Fails when the clone lacks the commit (a shallow clone)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, *paths], capture_output=True, check=False)
    assert archive.returncode == 0, f"git archive {commit} failed (a shallow clone?): {archive.stderr.decode()}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(where, filter="data")
    shutil.copytree(ROOT / "image", where / "image", ignore=shutil.ignore_patterns("base"))
    return where


def fleet_command(stack: str, *args: str) -> list[str]:
    """``python -m openclaw_fleet.cli ARGS --stack STACK``. A test makes fresh stacks, which in CI
    (``CI=true``) the fleet creates only when told: preview, up and rollout say ``--create-stacks``,
    as a first deploy does (``test_pr_attacks.py`` shows the refusal without it)."""
    creates = ["--create-stacks"] if args and args[0] in ("preview", "up", "rollout") else []
    return [sys.executable, "-m", "openclaw_fleet.cli", *args, *creates, "--stack", stack]


class PulumiFailed(AssertionError):
    """A pulumi command exited non-zero; the message has its output."""


class Fleet:
    """A stack of a temp copy of the project. ``stack`` is also the Docker label value's suffix;
    ``labels`` holds the label values of every stack made in this process."""

    labels: ClassVar[set[str]] = set()

    def __init__(self, workdir: Path, config: dict[str, str], env: dict[str, str] | None = None, source: Path = ROOT):
        self.dir = workdir / "project"
        self.dir.mkdir(parents=True)
        self.use_program(source)
        (self.dir / ".venv").symlink_to((ROOT / ".venv").resolve())
        (workdir / "state").mkdir()
        self.stack = f"itest{secrets.token_hex(3)}"
        self.prefix = f"it{secrets.token_hex(2)}"
        self.label = f"openclaw-fleet/{self.stack}"
        Fleet.labels.add(self.label)
        self.roster = self.dir / "roster.yaml"
        self.transcript: list[str] = []
        self.states: list[str] = []  # the state file after every up, for the secret scan
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
            "PULUMI_RUNTIME_VIRTUALENV": str(self.dir / ".venv"),
            **(env or {}),
        }
        self.env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        self.run("stack", "init", "--secrets-provider", "passphrase")
        for key, value in {**config, "roster": str(self.roster), "namePrefix": self.prefix}.items():
            self.run("config", "set", f"openclaw-fleet:{key}", value)

    @classmethod
    def for_docker(cls, workdir: Path, source: Path = ROOT, **settings: str) -> Fleet:
        """A Docker-target stack on the local registry and base image, with extra ``settings``."""
        config = {"target": "docker", "registry": LOCAL_REGISTRY, "baseImage": LOCAL_BASE_IMAGE, **settings}
        return cls(workdir, config, source=source)

    @classmethod
    def for_fly(
        cls, workdir: Path, emulator: Emulator, source: Path = ROOT, env: dict | None = None, **settings: str
    ) -> Fleet:
        """A Fly-target stack against ``emulator`` (its first token), with extra ``settings`` and
        ``env`` (such as another backend)."""
        config = {
            "target": "fly",
            "registry": LOCAL_REGISTRY,
            "baseImage": LOCAL_BASE_IMAGE,
            "flyApiUrl": emulator.url,
            "healthTimeoutSeconds": "60",
            **settings,
        }
        return cls(workdir, config, env={"FLY_API_TOKEN": next(iter(emulator.tokens)), **(env or {})}, source=source)

    def use_program(self, source: Path) -> None:
        """Put the program files of the checkout at ``source`` in place of the current ones."""
        for name in PROGRAM_FILES:
            target = self.dir / name
            if target.is_dir():
                shutil.rmtree(target)
            if not (source / name).exists():
                continue
            if (source / name).is_dir():
                shutil.copytree(source / name, target, ignore=shutil.ignore_patterns("__pycache__", "base"))
            else:
                shutil.copy(source / name, target)

    def state_file(self) -> Path:
        """The stack's checkpoint: ``<stack>.json``, or ``<stack>.json.gz`` as the ``fleet``
        command writes it."""
        plain = (
            Path(self.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
            / ".pulumi"
            / "stacks"
            / "openclaw-fleet"
            / f"{self.stack}.json"
        )
        gzipped = plain.with_name(plain.name + ".gz")
        return gzipped if gzipped.exists() else plain

    def state_text(self) -> str:
        """The checkpoint's JSON text, gzipped or not."""
        data = self.state_file().read_bytes()
        return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()

    def run(
        self,
        *args: str,
        check: bool = True,
        record: bool = True,
        stdin: str | None = None,
        timeout: int = 900,
        stack: str | None = None,
    ) -> str:
        result = subprocess.run(
            ["pulumi", *args, "--stack", stack or self.stack, "--non-interactive"],
            cwd=self.dir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = result.stdout + result.stderr
        if record:
            self.transcript.append(f"$ pulumi {' '.join(args)}\n{output}")
        if check and result.returncode != 0:
            raise PulumiFailed(f"pulumi {' '.join(args)} exited {result.returncode}:\n{output}")
        return output

    def fleet(self, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
        """The ``fleet`` command (``python -m openclaw_fleet.cli``) on this stack as base; recorded."""
        result = subprocess.run(
            fleet_command(self.stack, *args),
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.transcript.append(f"$ fleet {' '.join(args)}\n{result.stdout}{result.stderr}")
        return result

    def set_secret(self, key: str, value: str) -> None:
        """Set a config secret, passing the value on stdin so it is on no command line."""
        self.run("config", "set", "--secret", f"openclaw-fleet:{key}", stdin=value)

    def declare_source(self, name: str, kind: str, key: str, users: Iterable[str] | None = None) -> None:
        """Declare secret source ``name`` (``kind`` ``config`` or ``env``, reading ``key``) in the
        stack's settings, for ``users`` only when given."""
        setting = f'openclaw-fleet:secretSources["{name}"]'
        self.run("config", "set", "--plaintext", "--path", f"{setting}.{kind}", key)
        for index, user_id in enumerate(users or ()):  # a user id "looks like a secret" to Pulumi
            self.run("config", "set", "--plaintext", "--path", f"{setting}.users[{index}]", user_id)

    def write_roster(self, roster: dict | str) -> None:
        self.roster.write_text(roster if isinstance(roster, str) else yaml.safe_dump(roster, sort_keys=False))

    def up(self, release: Iterable[str] = ()) -> str:
        """``pulumi up``; ``release``: users moved to the image this run builds, as a wave of
        ``fleet rollout`` is (others keep the image recorded for them)."""
        if release:
            self.env[RELEASE_ENV] = json.dumps(dict.fromkeys(release, "built"))
        try:
            return self.run("up", "--yes", "--skip-preview")
        finally:
            self.env.pop(RELEASE_ENV, None)
            if self.state_file().exists():
                self.states.append(self.state_text())

    def remove_stack(self) -> None:
        """Destroy what the stack holds and remove it, whatever state a test left it in."""
        self.run("destroy", "--yes", check=False)
        self.run("stack", "rm", "--yes", "--force", check=False)

    def preview_changes(self) -> list[str]:
        """``pulumi preview --json``: one ``<op> <type>::<name>`` per step that is not ``same``."""
        steps = json.loads(self.run("preview", "--json")).get("steps") or []
        return [f"{step['op']} {step['urn'].split('::', 3)[-1]}" for step in steps if step["op"] != "same"]

    def users(self) -> dict:
        """The ``users`` stack output, less the tokens (so no assertion message can show one)."""
        users = json.loads(self.run("stack", "output", "users", "--json"))
        for out in users.values():
            assert out.pop("token") == "[secret]"
        return users

    def tokens(self) -> dict[str, str]:
        """User id → gateway token, read with --show-secrets (never recorded in the transcript)."""
        users = json.loads(self.run("stack", "output", "users", "--json", "--show-secrets", record=False))
        return {user_id: out["token"] for user_id, out in users.items()}

    def docker_objects(self) -> dict[str, dict[str, str]]:
        """Every Docker object with this stack's label: kind → {name: id/state snapshot}."""
        label = f"openclaw-fleet.stack={self.label}"
        with docker_client() as docker:
            return {
                "containers": {
                    c["Names"][0].lstrip("/"): f"{c['Id']} {c['State']}"
                    for c in docker.list_labelled("containers", label)
                },
                "volumes": {v["Name"]: v["Name"] for v in docker.list_labelled("volumes", label)},
                "networks": {n["Name"]: n["Id"] for n in docker.list_labelled("networks", label)},
            }
