"""The rollout's health gate: what OpenClaw's own `health --json` and `models status --json` say,
read the way the gate reads them (documents shaped as a real gateway of this image writes them)."""

import json

from openclaw_fleet.cli.health_gate import Gateway, check, health_problems, model_problems, problems_of

HEALTHY = {
    "ok": True,
    "plugins": {"loaded": ["anthropic", "openai"], "errors": [], "unavailable": []},
    "channels": {},
    "modelRuntime": {"degraded": False, "pendingAgents": []},
    "eventLoop": {"degraded": False, "reasons": []},
}
MODELS = {"defaultModel": "anthropic/claude-sonnet-4-5", "resolvedDefault": "anthropic/claude-sonnet-4-5"}
GATEWAY = Gateway("user_1", "anthropic/claude-sonnet-4-5", "oc-u-1", "m1")


def test_a_healthy_gateway_on_the_rosters_model_passes():
    assert health_problems(HEALTHY) == [] and model_problems(MODELS, GATEWAY.model) == []


def test_each_thing_openclaw_reports_wrong_is_named():
    sick = {
        **HEALTHY,
        "ok": False,
        "plugins": {"errors": ["whatsapp: cannot load"]},
        "modelRuntime": {"degraded": True},
        "channels": {"telegram": {"configured": True, "lastError": "401 Unauthorized"}, "whatsapp": {"running": True}},
    }
    assert health_problems(sick) == [
        "OpenClaw health is not ok",
        "plugin failed to load: whatsapp: cannot load",
        "modelRuntime degraded",
        "channel telegram: 401 Unauthorized",
    ]
    assert model_problems({"defaultModel": "openai/gpt-5.1"}, GATEWAY.model) == [
        "runs model openai/gpt-5.1, the roster says anthropic/claude-sonnet-4-5"
    ]


class Docker:
    """Stands in for the Docker client's exec: answers each command from ``answers``."""

    def __init__(self, answers: dict[str, tuple[int, str]]):
        self.answers, self.asked = answers, []

    def exec_run(self, container: str, argv: list[str], timeout_s: float) -> tuple[int, str]:
        self.asked.append((container, argv[2:]))
        return self.answers[argv[3]]


def test_the_gateway_is_asked_in_its_container_and_stderr_lines_before_the_document_are_skipped():
    docker = Docker({"health": (0, "[warn] {noise}\n" + json.dumps(HEALTHY)), "models": (0, json.dumps(MODELS))})
    assert problems_of(docker, GATEWAY) == []
    assert docker.asked == [
        ("m1", ["openclaw", "health", "--json"]),
        ("m1", ["openclaw", "models", "status", "--json"]),
    ]


def test_a_gateway_that_cannot_be_asked_does_not_pass():
    (problem,) = problems_of(Docker({"health": (1, "Error: gateway not reachable")}), GATEWAY)
    assert problem.startswith("OpenClaw could not be asked: `openclaw health --json` exited 1")


def test_a_degraded_start_that_recovers_passes_and_one_that_lasts_fails():
    answers = iter([{**HEALTHY, "eventLoop": {"degraded": True}}, HEALTHY])

    class Recovering(Docker):
        def exec_run(self, container, argv, timeout_s):
            return (0, json.dumps(next(answers) if argv[3] == "health" else MODELS))

    assert check(Recovering({}), [GATEWAY], patience_s=5, every_s=0.01) == {}
    lasting = Docker({"health": (0, json.dumps({**HEALTHY, "eventLoop": {"degraded": True}})), "models": (0, "{}")})
    assert check(lasting, [GATEWAY], patience_s=0.05, every_s=0.01) == {
        "user_1": ["eventLoop degraded", "runs model None, the roster says anthropic/claude-sonnet-4-5"]
    }
