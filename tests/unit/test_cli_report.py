"""``agentload report`` before anything was measured: one line saying what to run, nothing created."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentload.cli.main import app
from agentload.settings import get_settings
from models import migrate
from models.session import dispose_engines


@pytest.fixture(autouse=True)
def _in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Code-default settings (the database is ``agentload.db`` in the working folder), run from
    an empty folder; Redis points at a closed port (the report only needs it for tuned values)."""
    for name in list(os.environ):
        if name.startswith("AGENTLOAD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGENTLOAD_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    dispose_engines()


def _report(tmp_path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "out" / "report.html")])
    return result.exit_code, result.stdout, result.stderr


def test_given_no_database_yet_when_reporting_then_one_line_names_the_commands_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    code, out, err = _report(tmp_path)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no traceback
    assert lines[0].startswith(f"error: no database file at {tmp_path / 'agentload.db'}")
    assert "python -m models.migrate upgrade" in lines[0] and "agentload benchmark" in lines[0]
    assert "AGENTLOAD_DATABASE_URL" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no empty agentload.db, no report folder


def test_given_an_empty_database_file_when_reporting_then_it_says_never_migrated(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "agentload.db").close()  # what the earlier version left behind
    code, _, err = _report(tmp_path)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "no agentload tables (it was never migrated)" in err and "python -m models.migrate upgrade" in err
    assert not (tmp_path / "out").exists()


def test_given_an_older_schema_when_reporting_then_it_says_to_upgrade(tmp_path: Path) -> None:
    migrate.upgrade(f"sqlite:///{tmp_path / 'agentload.db'}", "0001_initial")
    code, _, err = _report(tmp_path)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"at revision 0001_initial, this version needs {migrate.head()}" in err
    assert "run `python -m models.migrate upgrade` first" in err


def test_given_a_migrated_database_without_results_when_reporting_then_an_empty_report_is_written(
    tmp_path: Path,
) -> None:
    migrate.upgrade(f"sqlite:///{tmp_path / 'agentload.db'}")
    code, out, _ = _report(tmp_path)
    assert code == 0 and out.strip() == str(tmp_path / "out" / "report.html")
    assert "No data yet" in (tmp_path / "out" / "report.html").read_text()


def test_given_an_unreachable_postgresql_when_reporting_then_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("AGENTLOAD_DATABASE_URL", "postgresql://agentload:s3cret@127.0.0.1:1/agentload")
    code, _, err = _report(tmp_path)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "cannot read the database (OperationalError" in err and "s3cret" not in err
    assert "check that the database is running" in err


def test_given_a_shell_expanded_glob_when_reporting_then_each_suite_has_its_quality_row(tmp_path: Path) -> None:
    migrate.upgrade(f"sqlite:///{tmp_path / 'agentload.db'}")
    for name in ("first", "second"):
        (tmp_path / f"{name}.jsonl").write_text('{"id": "x", "context": {"phase": 2}, "required_agents": ["pm"]}\n')
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "--scenarios", str(tmp_path / "first.jsonl"),
                                      str(tmp_path / "second.jsonl")])
    assert result.exit_code == 0, result.output
    quality = out.read_text().split('id="table-selection-quality"')[1].split("</table>")[0]
    assert "<td>first</td>" in quality and "<td>second</td>" in quality
