"""Job parameters: static bounds, the operator's limits (naming the field) and the target guard."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentload.measure.loadgen.spec import LoadLimits, TargetRefused
from agentload.measure.params import (
    BenchmarkParams,
    LoadTestParams,
    OptimizeParams,
    as_params,
    benchmark_limit_errors,
    load_limit_errors,
    raise_for,
    target_url,
)
from agentload.settings import Settings

LIMITS = LoadLimits(max_users=50, max_rate=500.0, max_duration_s=30.0)
SETTINGS = Settings(env="test", api_base_url="http://api.internal:8000", long_task_soft_time_limit_s=300)


def fields(p: LoadTestParams) -> list[str]:
    return [field for field, _ in load_limit_errors(p, LIMITS, SETTINGS)]


def test_given_a_load_run_within_limits_when_checked_then_no_error() -> None:
    assert fields(LoadTestParams(users=50, rate=500, duration_s=30)) == []


@pytest.mark.parametrize(("params", "field", "setting"), [
    ({"users": 51}, "users", "loadtest_max_users"),
    ({"rate": 501}, "rate", "loadtest_max_rate"),
    ({"duration_s": 29, "warmup_s": 2}, "duration_s", "loadtest_max_duration_s"),
    ({"mode": "steps", "steps": [1, 60], "rate": 1}, "steps", "loadtest_max_users"),
    ({"mode": "steps", "steps": [10, 20], "rate": 30}, "rate", "loadtest_max_rate"),
    ({"mode": "steps", "steps": [1, 2], "step_duration_s": 31}, "step_duration_s", "loadtest_max_duration_s"),
    ({"mode": "steps", "steps": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "step_duration_s": 29}, "steps",
     "long_task_soft_time_limit_s"),
    ({"mode": "stress", "users": 100, "rate": 1}, "users", "loadtest_max_users"),
])
def test_given_a_bound_exceeded_when_checked_then_the_error_names_field_and_setting(
    params: dict[str, object], field: str, setting: str,
) -> None:
    errors = load_limit_errors(LoadTestParams.model_validate(params), LIMITS, SETTINGS)
    assert [f for f, _ in errors] == [field]
    assert setting in errors[0][1]
    with pytest.raises(ValueError, match=f"^{field}: "):
        raise_for(errors)


def test_given_default_step_ladder_when_the_rate_fits_then_it_is_allowed() -> None:
    limits = LoadLimits(max_users=200, max_rate=2000.0, max_duration_s=30.0)
    p = LoadTestParams(mode="steps", rate=10, step_duration_s=2)
    assert p.user_steps() == [1, 5, 10, 25, 50, 100, 200]
    assert load_limit_errors(p, limits, SETTINGS) == []


@pytest.mark.parametrize("steps", [[3, 2], [1, 1], [0, 1]])
def test_given_bad_steps_when_validated_then_steps_is_named(steps: list[int]) -> None:
    with pytest.raises(ValidationError) as info:
        LoadTestParams(mode="steps", steps=steps)
    assert info.value.errors()[0]["loc"] == ("steps",)


def test_given_unknown_fields_or_bad_pids_when_validated_then_refused() -> None:
    with pytest.raises(ValidationError, match="userz"):
        LoadTestParams.model_validate({"userz": 3})
    with pytest.raises(ValidationError, match="pids"):
        LoadTestParams(pids={"bad name!": 12})
    with pytest.raises(ValidationError, match="strategies"):
        BenchmarkParams.model_validate({"strategies": ["full", "full"]})
    with pytest.raises(ValidationError, match="close_ratios"):
        OptimizeParams(close_ratios=[1.5])


@pytest.mark.parametrize("url", ["http://10.1.2.3:80", "http://example.com", "https://api.internal:9000",
                                 "file:///etc/passwd"])
def test_given_a_target_off_this_machine_when_resolved_then_it_is_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        target_url(url, SETTINGS)


def test_given_no_target_when_resolved_then_the_configured_api_or_loopback_is_used() -> None:
    assert target_url(None, SETTINGS) == "http://api.internal:8000"
    assert target_url("http://127.0.0.1:8123/", SETTINGS) == "http://127.0.0.1:8123"


def test_given_a_benchmark_over_limits_when_checked_then_fields_are_named() -> None:
    p = BenchmarkParams(users=51, rate=501, duration_s=30, requests=["x" * 5000])
    assert [f for f, _ in benchmark_limit_errors(p, LIMITS, SETTINGS)] == ["users", "rate", "duration_s", "requests"]


def test_given_params_when_serialised_for_a_message_then_defaults_are_left_to_the_worker() -> None:
    assert as_params(LoadTestParams(users=3)) == {"users": 3}
    body = as_params(BenchmarkParams.model_validate({"contexts": [{"phase": 2}], "requests": ["plan it"]}))
    assert body == {"contexts": [{"phase": 2}], "requests": ["plan it"]}


@pytest.mark.parametrize("body", [{"rate": 0.0001, "duration_s": 0.0001},
                                  {"mode": "steps", "rate": 0.0001, "step_duration_s": 0.001, "steps": [1, 2]}])
def test_given_a_load_test_that_schedules_no_request_when_validated_then_refused_saying_so(
        body: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="schedules no request"):
        LoadTestParams.model_validate(body)


def test_given_a_load_target_when_choosing_credentials_then_the_token_goes_to_the_configured_api_only() -> None:
    from agentload.measure.jobs.support import token_for
    from agentload.settings import Settings

    settings = Settings(api_token="secret-token-0123456789", api_base_url="http://127.0.0.1:8000")
    assert token_for("http://127.0.0.1:8000", settings) == "secret-token-0123456789"
    assert token_for("http://127.0.0.1:8000/", settings) == "secret-token-0123456789"
    assert token_for("http://127.0.0.1:6379", settings) == ""  # another loopback service
    assert token_for("http://localhost:8000", settings) == ""  # another origin by name
