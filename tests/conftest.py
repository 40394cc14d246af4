"""For the whole suite: every Fly emulator checks each call against the Machines API spec
(``tools/fly_emulator/contract.py``), and a test during which a call did not match fails."""

import os

import pytest

os.environ["FLY_EMULATOR_CONTRACT"] = "1"


@pytest.fixture(autouse=True)
def calls_match_the_spec(request):
    """Fail the test if any emulator saw a request or gave an answer the spec does not allow."""
    from tools.fly_emulator.contract import Contract

    before = len(Contract.all_mismatches)
    yield
    new = Contract.all_mismatches[before:]
    assert not new, f"{len(new)} call(s) did not match the Machines API spec:\n" + "\n".join(new[:20])


def pytest_terminal_summary(terminalreporter):
    from tools.fly_emulator.contract import Contract

    if Contract.checked:
        terminalreporter.write_line(
            f"Fly emulator: {Contract.checked} calls checked against the Machines API spec, "
            f"{len(Contract.all_mismatches)} mismatches"
        )
