"""For the whole suite: every Fly emulator checks each call against the Machines API spec
(``tools/fly_emulator/contract.py``), and a test during which a call did not match fails; and
credentials may go to loopback (``OPENCLAW_FLEET_ALLOWED_HOSTS``, unless set); and
whatever this session's test stacks left on the Docker engine (a test that failed before its
teardown) is removed when the session ends, and listed in the summary. Objects of other
sessions' stacks are left alone: another suite may be running on the same engine."""

import os

import pytest

os.environ["FLY_EMULATOR_CONTRACT"] = "1"
# The tests' emulators and registry listen on loopback; in CI (CI=true) credentials go only to
# hosts allowed outside the repository (openclaw_fleet/credential_hosts.py), as a protected CI
# variable would allow them. Tests of the refusal set their own.
os.environ.setdefault("OPENCLAW_FLEET_ALLOWED_HOSTS", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def calls_match_the_spec(request):
    """Fail the test if any emulator saw a request or gave an answer the spec does not allow."""
    from tools.fly_emulator.contract import Contract

    before = len(Contract.all_mismatches)
    yield
    new = Contract.all_mismatches[before:]
    assert not new, f"{len(new)} call(s) did not match the Machines API spec:\n" + "\n".join(new[:20])


TEST_STACK_LABEL = "openclaw-fleet.stack"
_left_behind: list[str] = []


def pytest_sessionfinish(session):
    """Remove every container, volume and network labelled with a stack this session made."""
    try:
        from openclaw_fleet.providers.docker.client import docker_client
        from tests.integration.fleet import Fleet

        with docker_client() as docker:
            for kind, remove in (
                ("containers", docker.remove_container),
                ("volumes", docker.remove_volume),
                ("networks", docker.remove_network),
            ):
                for item in docker.list_labelled(kind, TEST_STACK_LABEL):
                    if (item.get("Labels") or {}).get(TEST_STACK_LABEL) in Fleet.labels:
                        remove(item.get("Id") or item["Name"])
                        name = item.get("Name") or (item.get("Names") or ["?"])[0].lstrip("/")
                        _left_behind.append(f"{kind[:-1]} {name}")
    except Exception as error:  # no Docker engine: nothing of ours can be on it
        _left_behind.append(f"(Docker not checked: {type(error).__name__})")


def pytest_terminal_summary(terminalreporter):
    from tools.fly_emulator.contract import Contract

    if _left_behind:
        terminalreporter.write_line(f"removed what test stacks left on Docker: {', '.join(_left_behind)}")
    if Contract.checked:
        terminalreporter.write_line(
            f"Fly emulator: {Contract.checked} calls checked against the Machines API spec, "
            f"{len(Contract.all_mismatches)} mismatches"
        )
