"""The ``agentload select`` / ``agentload eval`` commands, in-process through Typer's CliRunner."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _fixtures import BMM_AGENTS, BUNDLED, REQUESTS, STRUCTURED, bundled_catalog, copy_catalog, require
from typer.testing import CliRunner

from agentload.cli.main import app
from agentload.selection.engine import SelectionConfig
from agentload.settings import Settings, get_settings

CAT = ["--catalog", str(BUNDLED)]
CONTRACT_KEYS = ["id", "agents", "loaded_tokens", "manifest_tokens", "baseline_tokens", "skills", "layout"]


@pytest.fixture(autouse=True)
def _plain_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Code-default settings: no AGENTLOAD_* variable of the surrounding shell leaks in."""
    for name in list(os.environ):
        if name.startswith("AGENTLOAD_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- select --------------------------------------------------------------------------------------


def test_given_context_json_when_selecting_then_selection_json_is_printed(runner: CliRunner) -> None:
    ctx = {"track": "bmad-method", "field_type": "greenfield", "next_workflow": "create-architecture"}
    result = runner.invoke(app, ["select", "--context-json", json.dumps(ctx), *CAT])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [a["id"] for a in out["agents"]] == ["architect"]
    assert out["strategy"] == "selective" and out["manifest"] and out["key"]
    assert out["optimized_tokens"] == out["loaded_tokens"] + out["manifest_tokens"]
    assert out["baseline_tokens"] == bundled_catalog().baseline_tokens


def test_given_full_strategy_when_selecting_then_every_agent(runner: CliRunner) -> None:
    result = runner.invoke(app, ["select", "--context-json", "{}", "--strategy", "full", *CAT])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [a["id"] for a in out["agents"]] == sorted(bundled_catalog().agents)
    assert out["reduction"] == 0.0 and out["manifest"] == ""


def test_given_default_catalog_when_selecting_then_settings_catalog_is_used(runner: CliRunner) -> None:
    result = runner.invoke(app, ["select", "--context-json", '{"next_workflow": "prd"}'])
    assert result.exit_code == 0, result.output
    assert [a["id"] for a in json.loads(result.stdout)["agents"]] == ["pm"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [("{bad", "not JSON"), ("", "not JSON"), ('{"phase": -1}', "phase"), ('{"colour": "red"}', "colour"),
     ("[1, 2]", "JSON object"), ("null", "JSON object"), ('"text"', "JSON object")],
)
def test_given_bad_context_json_when_selecting_then_exit_code_2_with_message(
    runner: CliRunner, payload: str, message: str
) -> None:
    result = runner.invoke(app, ["select", "--context-json", payload, *CAT])
    assert result.exit_code == 2
    assert "--context-json" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_given_unknown_strategy_when_selecting_then_exit_code_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["select", "--context-json", "{}", "--strategy", "fast", *CAT])
    assert result.exit_code == 2 and "--strategy" in result.output


def test_given_missing_catalog_when_selecting_then_exit_code_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["select", "--context-json", "{}", "--catalog", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "--catalog" in result.output


def test_given_catalog_with_broken_file_when_selecting_then_warning_on_stderr(
    runner: CliRunner, tmp_path: Path
) -> None:
    root = copy_catalog(tmp_path)
    (root / BMM_AGENTS / "broken.agent.yaml").write_text("agent: [\n")
    result = runner.invoke(app, ["select", "--context-json", "{}", "--catalog", str(root)])
    assert result.exit_code == 0
    assert f"warning: skipped {BMM_AGENTS}/broken.agent.yaml" in result.stderr
    assert json.loads(result.stdout)["agents"]


# --- eval ----------------------------------------------------------------------------------------


def test_given_structured_suite_when_evaluating_with_json_then_contract_lines_and_summary(runner: CliRunner) -> None:
    require(STRUCTURED, "structured suite")
    result = runner.invoke(app, ["eval", "--scenarios", str(STRUCTURED), "--json", *CAT])
    assert result.exit_code == 0, result.output
    lines = _json_lines(result.stdout)
    summary = lines.pop()
    assert len(lines) == 64 and all(list(line) == CONTRACT_KEYS for line in lines)
    s = summary["summary"]["bmm-structured.jsonl"]  # type: ignore[index]
    assert s["recall"] == 1.0 and s["scenarios"] == 64 and s["missed"] == []
    assert "overall" not in summary["summary"]  # type: ignore[operator]


def test_given_two_suites_when_evaluating_then_per_suite_and_overall_text_summaries(runner: CliRunner) -> None:
    require(STRUCTURED, "structured suite")
    require(REQUESTS, "request suite")
    result = runner.invoke(app, ["eval", "--scenarios", str(STRUCTURED), "--scenarios", str(REQUESTS), *CAT])
    assert result.exit_code == 0, result.output
    summaries = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    assert [s.split(":")[0] for s in summaries] == ["# bmm-structured.jsonl", "# bmm-requests.jsonl", "# overall"]
    assert "scenarios=64 recall=1.000" in summaries[0]
    assert "scenarios=104" in summaries[2]


def _two_suites(tmp_path: Path) -> Path:
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"id": "a1", "context": {"phase": 2}}\n')
    (folder / "b.jsonl").write_text('{"id": "b1", "context": {"phase": 3}}\n{"id": "b2", "context": {}}\n')
    (folder / "notes.txt").write_text("not a suite\n")
    return folder


@pytest.mark.parametrize("form", ["shell-expanded", "quoted-glob", "folder"])
def test_given_a_glob_or_folder_of_suites_when_evaluating_then_every_file_is_evaluated(
    runner: CliRunner, tmp_path: Path, form: str
) -> None:
    folder = _two_suites(tmp_path)
    given = {"shell-expanded": [str(folder / "a.jsonl"), str(folder / "b.jsonl")],  # what `DIR/*.jsonl` becomes
             "quoted-glob": [str(folder / "*.jsonl")], "folder": [str(folder)]}[form]
    result = runner.invoke(app, ["eval", "--scenarios", *given, *CAT])
    assert result.exit_code == 0, result.output
    assert [line["id"] for line in _json_lines(result.stdout)] == ["a1", "b1", "b2"]
    summaries = [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("# ")]
    assert summaries == ["# a.jsonl", "# b.jsonl", "# overall"]


def test_given_a_glob_matching_nothing_when_evaluating_then_exit_code_2_naming_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["eval", "--scenarios", str(tmp_path / "*.jsonl"), *CAT])
    assert result.exit_code == 2 and "pattern matches no file" in result.output


def test_given_no_suite_when_evaluating_then_exit_code_2_with_an_example(runner: CliRunner) -> None:
    result = runner.invoke(app, ["eval", *CAT])
    assert result.exit_code == 2 and "--scenarios" in result.output


def test_given_full_strategy_when_evaluating_then_zero_reduction(runner: CliRunner, tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "x", "context": {}}\n')
    result = runner.invoke(app, ["eval", "--scenarios", str(suite), "--strategy", "full", *CAT])
    assert result.exit_code == 0, result.output
    assert "recall=n/a" in result.stdout and "median_reduction=0.0%" in result.stdout


@pytest.mark.parametrize("body", ["{oops\n", '{"id": 1}\n'])
def test_given_bad_scenario_file_when_evaluating_then_exit_code_2(runner: CliRunner, tmp_path: Path, body: str) -> None:
    suite = tmp_path / "bad.jsonl"
    suite.write_text(body)
    result = runner.invoke(app, ["eval", "--scenarios", str(suite), *CAT])
    assert result.exit_code == 2 and "bad.jsonl:1" in result.output


def test_given_missing_scenario_file_when_evaluating_then_exit_code_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--scenarios", str(tmp_path / "none.jsonl"), *CAT])
    assert result.exit_code == 2 and "--scenarios" in result.output


def test_given_unknown_strategy_when_evaluating_then_exit_code_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--scenarios", str(tmp_path / "x"), "--strategy", "nope", *CAT])
    assert result.exit_code == 2 and "--strategy" in result.output


def test_given_settings_when_building_config_then_selection_knobs_are_copied() -> None:
    s = Settings(manifest_max_tokens=25, text_close_ratio=0.5, text_tie_ratio=0.6, text_min_score=2.0,
                 text_max_agents=2, orchestrator_agent="pm")
    cfg = SelectionConfig.from_settings(s)
    assert (cfg.manifest_max_tokens, cfg.text_close_ratio, cfg.text_tie_ratio, cfg.text_min_score,
            cfg.text_max_agents, cfg.orchestrator_agent) == (25, 0.5, 0.6, 2.0, 2, "pm")
    assert cfg.level_tracks == dict(s.level_tracks)


def test_given_a_project_folder_when_selecting_with_project_then_its_files_fill_the_context(
    runner: CliRunner, tmp_path: Path,
) -> None:
    from project_trees import installed, write

    project = installed("v6.12.0-installed", tmp_path / "shop")
    write(project, "_bmad-output/planning-artifacts/prds/prd-shop-2026-01-05/prd.md")
    result = runner.invoke(app, ["select", "--project", str(project)])  # the project is the catalog too
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["project"]["from"] == {"_bmad-output/planning-artifacts/prds/prd-shop-2026-01-05/prd.md": [
        "workflow_history:bmad-prd", "phase", "next_workflow"]}
    assert [a["id"] for a in body["agents"]] == ["bmad-agent-architect"]
    explicit = runner.invoke(app, ["select", "--project", str(project), "--context-json",
                                   '{"next_workflow": "bmad-prd"}'])
    assert [a["id"] for a in json.loads(explicit.stdout)["agents"]] == ["bmad-agent-pm"]
    missing = runner.invoke(app, ["select", "--project", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "--project" in missing.output
