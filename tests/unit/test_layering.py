"""Import layering, checked on the source (AST) so a violation fails before anything runs.

* ``agentload/`` (domain, API, jobs) never imports the ``workers``/``tasks`` layers, and
  Celery only in the API's one client module (``send_task`` by name, ``AsyncResult``).
* The pure domain modules import no infrastructure at all (Redis, SQL, Celery, ORM models).
* The API enqueues by task *name*: it never imports ``workers`` or ``tasks``.
* ``tasks/`` stay thin: each task is ``@agentload_task(TaskName.X)`` (queue from the routing
  table, never repeated) with a short body; ``agentload/tasknames.py`` imports only the stdlib.
* Measurement tools (``agentload/measure``) are reached from product code only at its edges
  (the CLI, the perf-job route's parameter check); nothing in the package imports the test
  harnesses under ``tests/``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "agentload"
PURE_PATTERNS = ("catalog*", "selection*", "project", "tokens.py", "delivered.py", "context.py")
MAX_TASK_BODY_STATEMENTS = 4
#: the only modules in agentload/ allowed to import celery/kombu: the API's publishing client
CELERY_CLIENT_MODULES = {PKG / "api" / "enqueue.py"}
MEASURE = PKG / "measure"
#: product modules that may import ``agentload.measure``: the commands that run measurements and
#: the route that validates a perf job's parameters before enqueueing it
MEASURE_EDGES = {PKG / "cli" / "main.py", PKG / "api" / "routes" / "perf_jobs.py"}


def python_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.suffix == ".py" and path.exists():
            yield path


def imported_modules(path: Path) -> set[str]:
    """Absolute module names imported by a file (including ``import_module("x")`` literals)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def violations(files: Iterable[Path], forbidden: set[str]) -> list[str]:
    bad = []
    for path in files:
        for module in sorted(imported_modules(path)):
            if module.split(".")[0] in forbidden:
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


def pure_files() -> list[Path]:
    return list(python_files(p for pattern in PURE_PATTERNS for p in sorted(PKG.glob(pattern))))


def test_scan_sees_the_package() -> None:
    assert PKG / "settings.py" in set(python_files([PKG]))


def test_agentload_never_imports_the_celery_layers() -> None:
    files = list(python_files([PKG]))
    assert violations(files, {"workers", "tasks"}) == []
    assert violations([f for f in files if f not in CELERY_CLIENT_MODULES], {"celery", "kombu"}) == []


def test_pure_domain_imports_no_infrastructure() -> None:
    files = pure_files()
    if not files:
        pytest.skip("no pure domain modules yet")
    forbidden = {"redis", "sqlalchemy", "celery", "kombu", "models", "psycopg", "fastapi"}
    assert violations(files, forbidden) == []
    # and nothing in-package that is itself infrastructure
    infra = ("agentload.reader", "agentload.publish", "agentload.api", "agentload.jobs", "agentload.measure")
    bad = [f"{p.relative_to(ROOT)} imports {m}" for p in files for m in imported_modules(p)
           if any(m == i or m.startswith(i + ".") for i in infra)]
    assert bad == []


def test_pure_patterns_name_modules_that_exist() -> None:
    missing = [pattern for pattern in PURE_PATTERNS if not list(PKG.glob(pattern))]
    assert missing == []


def test_product_code_reaches_measurement_tools_only_at_its_edges() -> None:
    product = [f for f in python_files([PKG]) if MEASURE not in f.parents]
    bad = [f"{p.relative_to(ROOT)} imports {m}" for p in product if p not in MEASURE_EDGES
           for m in imported_modules(p) if m == "agentload.measure" or m.startswith("agentload.measure.")]
    assert bad == []
    assert all(edge.exists() for edge in MEASURE_EDGES)


def test_no_package_module_imports_the_test_harnesses() -> None:
    assert violations(python_files([PKG, ROOT / "workers", ROOT / "tasks", ROOT / "models"]), {"tests"}) == []


#: the request path: what the API and the MCP server run
READ_SIDE = [PKG / "api", PKG / "reader", *sorted(PKG.glob("mcp_*.py"))]
#: what the request path must never load: the publish side, jobs, workers and SQL
NOT_ON_READ_SIDE = ("agentload.publish", "agentload.jobs", "agentload.measure.jobs", "agentload.selection.engine",
                    "workers", "tasks", "models", "sqlalchemy", "alembic", "psycopg")


def _forbidden_on_read_side(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in NOT_ON_READ_SIDE)


#: the API's one way to the SQL history (performance endpoints): lazily, inside its functions
SQL_HISTORY = PKG / "api" / "history.py"


def test_read_side_source_imports_no_publish_jobs_worker_or_sql_module() -> None:
    files = list(python_files(READ_SIDE))
    assert len(files) > 20 and PKG / "reader" / "store.py" in files
    bad = [f"{p.relative_to(ROOT)} imports {m}" for p in files for m in sorted(imported_modules(p))
           if _forbidden_on_read_side(m) and not (p == SQL_HISTORY and m.split(".")[0] == "models")]
    assert bad == []
    top_level = {m for node in ast.parse(SQL_HISTORY.read_text()).body if isinstance(node, ast.ImportFrom)
                 for m in [node.module or ""]}
    assert not any(m.split(".")[0] == "models" for m in top_level)  # only inside its functions


def test_importing_the_api_app_and_mcp_server_loads_no_publish_jobs_worker_or_sql_module() -> None:
    """The running check beside the source scan: whatever imports what at run time (package
    ``__init__`` files, re-exports), a fresh interpreter that imports the API app and the MCP
    server has none of those modules loaded, nor numpy (the selection engine's)."""
    import subprocess
    import sys

    probe = ("import sys, agentload.api.app, agentload.mcp_server; "
             "print(chr(10).join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=ROOT).stdout.split()
    assert "agentload.api.app" in loaded and "agentload.reader.store" in loaded
    assert [m for m in loaded if _forbidden_on_read_side(m) or m.split(".")[0] == "numpy"] == []


def test_api_enqueues_by_name_only() -> None:
    api = PKG / "api"
    if not api.exists():
        pytest.skip("agentload/api does not exist yet")
    assert violations(python_files([api]), {"workers", "tasks"}) == []


def _task_declarations(tree: ast.Module) -> Iterator[tuple[ast.FunctionDef, ast.Call]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "agentload_task":
                    yield node, deco


def test_tasks_are_thin_and_declare_their_name_once() -> None:
    """Each task names itself once, as ``TaskName.X``; its queue comes from the routing table."""
    seen = 0
    for path in python_files([ROOT / "tasks"]):
        tree = ast.parse(path.read_text())
        where_any = str(path.relative_to(ROOT))
        assert not {"celery", "kombu"} & {m.split(".")[0] for m in imported_modules(path)}, (
            f"{where_any}: declare tasks with workers.base.agentload_task, not Celery's decorators")
        for func, deco in _task_declarations(tree):
            seen += 1
            where = f"{where_any}:{func.name}"
            name = deco.args[0] if deco.args else None
            assert isinstance(name, ast.Attribute) and getattr(name.value, "id", "") == "TaskName", (
                f"{where} must be declared agentload_task(TaskName.X)")
            assert "queue" not in {kw.arg for kw in deco.keywords}, f"{where}: the queue comes from ROUTES"
            body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            assert len(body) <= MAX_TASK_BODY_STATEMENTS, f"{where}: move logic into agentload.jobs"
            assert not any(isinstance(s, ast.Try) for s in ast.walk(func)), f"{where}: no try in tasks"
    assert seen >= 10


def test_task_names_module_imports_only_the_standard_library() -> None:
    """The API, MCP server, workers and beat all import it: it must stay free of their stacks."""
    imported = {m.split(".")[0] for m in imported_modules(PKG / "tasknames.py")}
    assert imported <= {"__future__", "collections", "enum", "types", "typing"}, imported


def test_no_pickle_in_the_celery_layers() -> None:
    files = list(python_files([ROOT / "workers", ROOT / "tasks", ROOT / "beat_schedule.py"]))
    assert violations(files, {"pickle", "dill", "cloudpickle"}) == []
    pickle_names = {"pickle", "application/x-python-serialize"}
    for path in files:
        constants = {
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not constants & pickle_names, f"{path.relative_to(ROOT)} mentions a pickle serializer"
