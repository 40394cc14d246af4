"""The stack outputs are one typed boundary: the program writes rows the models know, the CLI parses them."""

import pytest

from openclaw_fleet.errors import FleetError
from openclaw_fleet.outputs import MachineRow, RosterRow, StackOutputs, row
from tests.unit.users import user


def test_a_row_with_a_field_its_model_lacks_fails_where_the_program_writes_it():
    with pytest.raises(TypeError, match="MachineRow has no field gateway_tokn"):
        row(MachineRow, user_id="u", gateway_tokn="x")
    assert row(RosterRow, name="n", model="m") == {"name": "n", "model": "m"}  # `model` is a roster field


def test_what_the_program_records_of_a_user_reads_back_as_written():
    recorded = row(RosterRow, name="openclaw-u-1", volume_id="vol_1", **user().recorded("fly", 3))
    parsed = StackOutputs.parse({"roster_state": {"user_1": recorded}}, "dev")
    assert parsed.roster_state["user_1"].as_written() == recorded


def test_outputs_of_another_shape_fail_naming_the_stack_and_the_output_and_masked_ones_read_empty():
    with pytest.raises(FleetError, match=r"stack dev-shard-2-of-4: .*machines\.0\.user_id"):
        StackOutputs.parse({"machines": [{"id": "m1"}]}, "dev-shard-2-of-4")
    assert StackOutputs.parse({"users": "[secret]", "fleet_digest": None}, "dev") == StackOutputs()


def test_a_stack_of_an_older_version_reads_and_unknown_outputs_are_ignored():
    older = {"roster_state": {"u": {"name": "p-u", "provider_keys": ["ANTHROPIC_API_KEY"]}}, "later_output": 1}
    parsed = StackOutputs.parse(older, "dev")
    assert parsed.roster_state["u"].provider_keys == ["ANTHROPIC_API_KEY"] and parsed.image_of("u") is None


def test_the_program_exports_only_outputs_the_command_reads(monkeypatch):
    import pulumi
    import pytest

    from openclaw_fleet.stack_outputs import export

    exported = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    export(image="reg/gw@sha256:a", fleet_digest=None, departed={})
    assert exported == {"image": "reg/gw@sha256:a", "departed": {}}  # None is not exported
    with pytest.raises(TypeError, match="StackOutputs has no output imgae"):
        export(imgae="reg/gw@sha256:a")
