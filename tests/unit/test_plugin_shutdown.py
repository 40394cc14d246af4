"""Our plugins end at the engine's SIGINT, also when started with SIGINT ignored.

The engine stops a plugin it is done with by SIGINT and kills it only 5 s later
(``sdk/go/common/resource/plugin/plugin.go``, 3.259.0); it does so with the first language host
of every preview and update and waits. A process started in the background by a
non-interactive shell, or under ``nohup``, inherits SIGINT ignored, and neither Go nor Python
turns it back on by itself, so every run waited those 5 s.
"""

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATIENCE_S = 4.0  # under the engine's 5 s, with room for a loaded machine


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ends_at_sigint(command: list[str]) -> None:
    """Start ``command`` with SIGINT ignored, wait for the port it prints, send SIGINT; fail when
    it is still running PATIENCE_S later."""
    plugin = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_sigint
    )
    try:
        assert int(plugin.stdout.readline()) > 0
        plugin.send_signal(signal.SIGINT)
        plugin.wait(timeout=PATIENCE_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command[0]} still ran {PATIENCE_S} s after SIGINT")
    finally:
        plugin.kill()
        plugin.wait()


def test_language_host_ends_at_sigint():
    pulumi = shutil.which("pulumi")
    assert pulumi, 'the Pulumi CLI is not on PATH (eval "$(bin/fleet env)")'
    host = Path(pulumi).parent / "pulumi-language-python"
    if not any(host.parent.glob(".language-host-*")):  # bin/setup marks the host it builds
        pytest.skip("the language host next to pulumi is Pulumi's own, not this project's")
    ends_at_sigint([str(host)])


def test_provider_server_ends_at_sigint():
    ends_at_sigint([sys.executable, "-u", "-m", "openclaw_fleet.providers.server"])
