"""``Context`` validation and normalisation; ``Resolved.key`` stability."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agentload.context import Context, Resolved, norm_id, normalize_request


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"phase": -1}, "phase"),
        ({"phase": 21}, "phase"),
        ({"complexity_level": 9}, "complexity_level"),
        ({"complexity_level": -1}, "complexity_level"),
        ({"workflow_history": [f"w{i}" for i in range(201)]}, "workflow_history"),
        ({"workflow_history": ["x" * 201]}, "workflow_history"),
        ({"track": "t" * 101}, "track"),
        ({"next_workflow": "n" * 201}, "next_workflow"),
        ({"request": "r" * 4001}, "request"),
        ({"has_ui": "perhaps"}, "has_ui"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_given_out_of_bounds_or_unknown_field_when_validating_then_error_names_the_field(
    fields: dict[str, Any], bad_field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Context(**fields)
    locs = {str(err["loc"][0]) for err in info.value.errors()}
    assert locs == {bad_field}
    assert bad_field in str(info.value)


def test_given_bounds_when_validating_then_extremes_are_accepted() -> None:
    ctx = Context(phase=20, complexity_level=4, workflow_history=["w"] * 200, request="r" * 4000)
    assert ctx.phase == 20 and len(ctx.workflow_history) == 200


def test_given_blank_strings_when_validating_then_they_become_none_and_history_is_cleaned() -> None:
    ctx = Context(track="  ", field_type="", next_workflow=" \t", user_role="", request="   ",
                  workflow_history=["  prd ", "", "   ", "architecture"])
    assert (ctx.track, ctx.field_type, ctx.next_workflow, ctx.user_role, ctx.request) == (None,) * 5
    assert ctx.workflow_history == ["prd", "architecture"]


def test_given_empty_context_when_validating_then_every_field_is_optional() -> None:
    assert Context().model_dump() == {
        "track": None, "field_type": None, "phase": None, "complexity_level": None, "has_ui": None,
        "user_role": None, "workflow_history": [], "next_workflow": None, "request": None}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Create PRD", "create-prd"), ("  create_ux_design ", "create-ux-design"), ("a \t b", "a-b")],
)
def test_given_ids_in_any_spelling_when_normalising_then_lower_hyphenated(raw: str, expected: str) -> None:
    assert norm_id(raw) == expected


def test_given_request_when_normalising_then_whitespace_collapsed_and_lowered() -> None:
    assert normalize_request("  Build   ME\na  Thing ") == "build me a thing"
    assert normalize_request(None) is None and normalize_request("") is None


def test_given_resolved_contexts_when_keying_then_notes_are_ignored_and_fields_matter() -> None:
    a = Resolved(phase=2, next_workflow="prd", notes=["x"], unknown=["y"])
    b = Resolved(phase=2, next_workflow="prd")
    assert a.key() == b.key()
    assert len(a.key()) == 24 and int(a.key(), 16) >= 0
    assert Resolved(phase=2, next_workflow="create-architecture").key() != b.key()
    assert Resolved(phase=2, next_workflow="prd", has_ui=True).key() != b.key()
