"""The SDK workarounds hold only on the SDK code they were verified against.

Each workaround names the SDK functions it replaces or relies on, by the SHA-256 of their
source in the verified release. When a Pulumi upgrade changes one, its test here fails naming
the workaround: read the new SDK code, check the workaround still holds (its behaviour tests:
test_outputs_awaited_together, test_registrations, test_provider_server, test_plugin_shutdown),
or drop it, then record the new fingerprint.
"""

import pytest

from openclaw_fleet.errors import SdkNotVerified
from openclaw_fleet.sdk_workarounds import VERIFIED_SDK, WORKAROUNDS, check_sdk, fingerprint


@pytest.mark.parametrize("workaround", WORKAROUNDS, ids=lambda workaround: workaround.name)
def test_the_sdk_code_a_workaround_relies_on_is_what_it_was_verified_against(workaround):
    for reference, verified in workaround.relies_on.items():
        assert fingerprint(reference) == verified, (
            f"{workaround.name}: {reference} changed in the installed SDK; {workaround.why}. "
            f"Remove it when {workaround.remove_when}."
        )


def test_every_workaround_says_why_and_when_it_goes():
    for workaround in WORKAROUNDS:
        assert workaround.why and workaround.upstream and workaround.remove_when and workaround.relies_on


def test_the_installed_sdk_is_a_verified_one_and_another_is_refused_naming_each_workaround():
    check_sdk()
    with pytest.raises(SdkNotVerified) as refused:
        check_sdk("3.999.0")
    message = str(refused.value)
    assert "3.999.0" in message and VERIFIED_SDK[-1] in message
    assert all(workaround.name in message for workaround in WORKAROUNDS)


def test_a_fingerprint_changes_with_the_code_and_fails_on_code_that_is_gone():
    assert fingerprint("pulumi.log:debug") != fingerprint("pulumi.log:info")
    with pytest.raises(LookupError, match="not in the installed SDK"):
        fingerprint("pulumi.log:no_such_function")
