"""The context is declared once (``agentload.context``); the API query, the stored workflow
state and the MCP tool's parameters follow it, so a new field reaches every caller."""

from __future__ import annotations

import asyncio

from agentload.api.schemas import SelectionQuery, WorkflowState
from agentload.context import CONTEXT_FIELDS, Context, ProjectState
from agentload.mcp_context import SELECT_OPTIONS
from agentload.mcp_server import AgentloadMCP
from agentload.settings import Settings


def test_given_the_context_when_deriving_the_api_models_then_they_carry_its_fields_and_rules() -> None:
    assert tuple(Context.model_fields) == CONTEXT_FIELDS
    assert set(ProjectState.model_fields) < set(Context.model_fields)
    assert set(WorkflowState.model_fields) == set(ProjectState.model_fields)
    assert set(SelectionQuery.model_fields) - set(Context.model_fields) == {
        "project_id", "project_path", "user_id", "include", "wait_ms"}
    for model in (SelectionQuery, WorkflowState):
        for name in model.model_fields.keys() & Context.model_fields.keys():
            assert model.model_fields[name].description == Context.model_fields[name].description, (model, name)


def test_given_the_context_when_listing_the_mcp_tool_then_its_parameters_are_the_fields_plus_options() -> None:
    tools = asyncio.run(AgentloadMCP(Settings(env="test")).server.list_tools())
    schema = next(t for t in tools if t.name == "select_agents").input_schema
    properties = schema["properties"]
    assert list(properties) == [*CONTEXT_FIELDS, *(name for name, *_ in SELECT_OPTIONS)]
    assert not schema.get("required")  # every field optional: the project fills what is left out
    for name in CONTEXT_FIELDS:
        assert properties[name]["description"] == Context.model_fields[name].description


def test_given_a_field_rule_when_violated_through_any_model_then_the_same_rule_refuses_it() -> None:
    import pytest
    from pydantic import ValidationError

    for model in (Context, WorkflowState, SelectionQuery):
        with pytest.raises(ValidationError, match="joins several ids with commas"):
            model.model_validate({"workflow_history": ["prd,architecture"]})
        with pytest.raises(ValidationError):
            model.model_validate({"complexity_level": 5})
