"""``agentload``: select, evaluate, preload, journey, load test and report from the shell.

Commands that only need the catalog (``select``, ``eval``) run in-process and touch no
service; the others talk to Redis, the API or the database named by the settings.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError

from agentload.catalog import Catalog, EmptyCatalog, load_catalog, require_agents
from agentload.context import Context
from agentload.measure.evaluation import evaluate_one, expand_suites, public, read_scenarios, summarize
from agentload.project import merge, read_project
from agentload.selection.engine import STRATEGIES, SelectionConfig, Selector
from agentload.settings import get_settings

WARNINGS_SHOWN = 5
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="BMad tree root (default: settings)")]
StrategyOpt = Annotated[str, typer.Option("--strategy", help="selective | full | cached")]


def load_checked(catalog: Path | None, option: str = "--catalog") -> Catalog:
    """The catalog at ``catalog`` (default: settings), its skipped files and dangling references
    reported on stderr; exits with code 2 when it is missing or holds no agent (the message
    names ``option``, the command-line option the path came from)."""
    settings = get_settings()
    root = catalog or settings.catalog_path
    try:
        cat = require_agents(load_catalog(root, max_file_bytes=settings.catalog_max_file_bytes))
    except (FileNotFoundError, EmptyCatalog) as exc:
        # plain text, not a boxed panel: the path must survive copy-paste and log scraping
        typer.echo(f"error: {option}: {exc}", err=True)
        raise typer.Exit(2) from exc
    for err in cat.errors:
        typer.echo(f"warning: skipped {err.path}: {err.reason}", err=True)
    for warn in cat.warnings[:WARNINGS_SHOWN]:
        typer.echo(f"warning: {warn.path}: {warn.reason}", err=True)
    if len(cat.warnings) > WARNINGS_SHOWN:
        typer.echo(f"warning: ... {len(cat.warnings) - WARNINGS_SHOWN} more (agentload catalog --catalog "
                   f"{root} lists them all)", err=True)
    return cat


def build_selector(catalog: Path | None) -> Selector:
    return Selector(load_checked(catalog), SelectionConfig.from_settings(get_settings()))


@app.command("catalog")
def show_catalog(catalog: CatalogOpt = None) -> None:
    """Print what was found under a path as JSON: layouts and versions, agents, work items
    (with token counts), skipped files and warnings. Exit code 2 when it holds no agent."""
    cat = load_checked(catalog)
    body = {
        "root": cat.root,
        "layouts": [lay.model_dump() for lay in cat.layouts],
        "agents": {a.id: {"title": a.title, "layout": a.layout, "path": a.path, "tokens": a.tokens}
                   for a in cat.agents.values()},
        "work_items": {w.id: {"kind": w.kind, "phase": w.phase, "owners": w.owners, "entry_file": w.entry_file,
                              "tokens": w.tokens, "files": len(w.files)} for w in cat.work_items.values()},
        "baseline_tokens": cat.baseline_tokens,
        "errors": [e.model_dump() for e in cat.errors],
        "warnings": [w.model_dump() for w in cat.warnings],
    }
    sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise typer.BadParameter(f"expected one of {', '.join(STRATEGIES)}", param_hint="--strategy")


@app.command()
def select(
    context_json: Annotated[str, typer.Option("--context-json", help="context object as JSON")] = "{}",
    catalog: CatalogOpt = None,
    strategy: StrategyOpt = "selective",
    project: Annotated[Path | None, typer.Option("--project", help="fill what the context leaves out from this "
                                                 "project's BMad files (default catalog: the project)")] = None,
) -> None:
    """Print the selection for one context as JSON (with ``project``: which file gave what)."""
    _check_strategy(strategy)
    try:
        given = orjson.loads(context_json)
        if not isinstance(given, dict):
            raise typer.BadParameter("expected a JSON object, e.g. '{\"phase\": 2}'", param_hint="--context-json")
        Context(**given)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--context-json") from exc
    except (ValidationError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--context-json") from exc
    if project is not None and not project.is_dir():
        raise typer.BadParameter(f"{project} is not a folder", param_hint="--project")
    selector = build_selector(catalog or project)
    report = None
    if project is not None:
        given, report = merge({k: v for k, v in given.items() if v not in (None, [])},
                              read_project(project, selector.resolver))
    body = selector.select(Context(**given), strategy).model_dump(mode="json")
    if report:
        body["project"] = report
    sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command("eval")
def evaluate(
    scenarios: Annotated[list[Path] | None, typer.Option("--scenarios", help="JSONL suite: a file, a folder of "
                                                         "*.jsonl or a quoted glob (repeatable)")] = None,
    more: Annotated[list[Path] | None, typer.Argument(
        metavar="[SUITE]...", help="more suites, e.g. the files a shell glob expands to after --scenarios",
        show_default=False)] = None,
    catalog: CatalogOpt = None,
    strategy: StrategyOpt = "selective",
    as_json: Annotated[bool, typer.Option("--json", help="summary as one JSON line")] = False,
) -> None:
    """One JSON line per scenario (id, agents, loaded/manifest/baseline tokens) and a summary.

    ``--scenarios DIR/*.jsonl`` works both ways: unquoted, the shell's expansion lands in
    ``[SUITE]...``; quoted, the pattern is expanded here.
    """
    _check_strategy(strategy)
    try:
        suites = expand_suites([*(scenarios or []), *(more or [])])
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenarios") from exc
    if not suites:
        raise typer.BadParameter("give at least one suite, e.g. --scenarios data/scenarios/*.jsonl",
                                 param_hint="--scenarios")
    selector = build_selector(catalog)
    summaries: dict[str, dict[str, object]] = {}
    every: list[dict[str, object]] = []
    out = sys.stdout
    for suite in suites:
        lines = []
        try:
            for scenario in read_scenarios(suite):
                line = evaluate_one(selector, scenario, strategy)
                lines.append(line)
                out.write(orjson.dumps(public(line)).decode() + "\n")
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--scenarios") from exc
        summaries[suite.name] = summarize(lines)
        every += lines
    if len(summaries) > 1:
        summaries["overall"] = summarize(every)
    if as_json:
        out.write(orjson.dumps({"summary": summaries}).decode() + "\n")
        return
    for name, s in summaries.items():
        recall = "n/a" if s.get("recall") is None else f"{s['recall']:.3f}"
        out.write(
            f"# {name}: scenarios={s['scenarios']} recall={recall} mean_agents={s.get('mean_agents')} "
            f"median_reduction={s.get('median_reduction', 0):.1%} mean_reduction={s.get('mean_reduction', 0):.1%} "
            f"p10_reduction={s.get('p10_reduction', 0):.1%} missed={s.get('missed', [])}\n"
        )


@app.command()
def journey(
    api: Annotated[str | None, typer.Option("--api", help="API base URL (default: settings)")] = None,
    mcp: Annotated[str | None, typer.Option("--mcp", help="MCP server URL or command (default: stdio)")] = None,
    track: Annotated[str, typer.Option(help="path track")] = "bmad-method",
    field_type: Annotated[str | None, typer.Option("--field-type", help="greenfield | brownfield")] = "greenfield",
    tokens: Annotated[bool, typer.Option("--tokens", help="delivered tokens per step for everything, agents "
                                         "only and progressive loading, on every track of --catalog")] = False,
    catalog: Annotated[list[Path] | None, typer.Option("--catalog", help="with --tokens: a BMad tree or "
                                                       "project (repeatable; default: settings)")] = None,
    store: Annotated[bool, typer.Option("--store", help="with --tokens: write the figures to "
                                        "token_optimization")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Walk a project through a whole BMad path as a client would (API + MCP); time every step.

    With ``--tokens``: walk every track of each catalog through the MCP tools (a private Redis,
    no API needed) and report the tokens each step delivers under three loading strategies.
    """
    if tokens:
        from agentload.measure.journey_tokens import journey_tokens_main
        from agentload.settings import get_settings

        roots = catalog or [get_settings().catalog_path]
        for root in roots:
            load_checked(root)  # exit 2 naming the path, before any server starts
        raise typer.Exit(journey_tokens_main(roots, as_json=as_json, store=store))
    from agentload.measure.journey import journey_main

    raise typer.Exit(journey_main(api_base_url=api, mcp=mcp, track=track, field_type=field_type, as_json=as_json))


@app.command()
def demo(
    api: Annotated[str, typer.Option("--api", help="API base URL of the running stack")],
    scenarios: Annotated[Path | None, typer.Option("--scenarios", help="folder of *.jsonl suites")] = None,
    report: Annotated[Path, typer.Option("--report", help="HTML report to write")] = Path("reports/report.html"),
    logs: Annotated[Path | None, typer.Option("--logs", help="folder with the stack's pid files")] = None,
) -> None:
    """Drive a running stack end to end (used by `make demo`) and print a summary."""
    from agentload.measure.demo import print_summary, run_demo

    print_summary(run_demo(api, scenarios, report, logs))


@app.command()
def serve(
    project: Annotated[Path, typer.Option("--project", help="your project (or any folder holding BMad files)")],
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="database, logs and mcp.json "
                                                   "(default: ~/.cache/agentload/<project>-<hash>)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="API port (default: a free one)")] = None,
    mcp_port: Annotated[int | None, typer.Option("--mcp-port", help="MCP HTTP port (default: a free one)")] = None,
) -> None:
    """Run everything for one project: Redis, a worker, beat, the API and the MCP server;
    print the MCP configuration for Claude Code, Claude Desktop and Cursor; Ctrl-C stops it."""
    from agentload.serve import run

    load_checked(project, "--project")  # exit 2 naming the path before anything starts
    raise typer.Exit(run(project, state=state_dir, api_port=port, mcp_port=mcp_port))


def _register_measurement() -> None:
    from agentload.measure import cli as measure_cli

    measure_cli.register(app)


_register_measurement()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
