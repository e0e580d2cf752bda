"""Run the Alembic migrations from code or the command line, without an ``alembic.ini``.

Deployments call ``upgrade(url)`` (or ``python -m models.migrate upgrade``) at start-up; the
configuration is built in code with ``script_location`` pointing inside this package, so the
migrations ship with the wheel and work from any working directory. ``schema_diff`` is the
drift check: an empty list means the ORM metadata and the migrated database agree.
``schema_problem`` is the read-only check commands that only read results (``agentload
report``) run first, so they say what to run instead of failing on a missing table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ARRAY, CHAR, Dialect, Uuid
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator, TypeEngine

from models.session import get_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for ``url``; the URL travels in ``attributes``, not ConfigParser."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = normalize_url(url)
    return config


def _storage_type(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    while isinstance(type_, TypeDecorator):
        type_ = type_.load_dialect_impl(dialect)
    return type_


def compare_column_type(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    """Alembic's ``compare_type`` hook, adding what its default misses (``TEXT`` vs ``TEXT[]``)
    and leaving out what is no difference: on SQLite a ``Uuid`` (32 hex characters) in a
    column declared ``CHAR(36)`` by revision 0001 (SQLite enforces no length; revision 0003
    rewrote the values).

    Returns True for a difference, False for none, None to let Alembic's own comparison decide.
    """
    stored = _storage_type(metadata_type, context.dialect)
    if context.dialect.name == "sqlite" and isinstance(stored, Uuid):
        return not isinstance(inspected_type, CHAR)
    if isinstance(stored, ARRAY) != isinstance(inspected_type, ARRAY):
        return True
    if isinstance(stored, ARRAY) and isinstance(inspected_type, ARRAY):
        return stored.item_type._type_affinity is not inspected_type.item_type._type_affinity
    return None


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: latest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate down to ``revision`` (``"base"`` drops every table)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at, or ``None`` when it was never migrated."""
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    """The newest revision shipped in this package."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def shown_url(url: str) -> str:
    """``url`` as it may be printed: the password masked."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


class SchemaProblem(NamedTuple):
    """Why a database cannot be read: ``kind`` is ``absent`` (no SQLite file), ``unreachable``
    (connecting or reading failed), ``unmigrated`` (no agentload tables) or ``outdated`` (an
    older revision than this code's); ``detail`` says it in words."""

    kind: Literal["absent", "unreachable", "unmigrated", "outdated"]
    detail: str


def schema_problem(url: str) -> SchemaProblem | None:
    """Why the database at ``url`` cannot be read yet, or None when it is migrated to head.

    Never creates anything: a SQLite file that does not exist is reported before any
    connection (connecting would leave an empty file behind).
    """
    parsed = make_url(normalize_url(url))
    name = parsed.database
    on_disk = parsed.get_backend_name() == "sqlite" and name and name != ":memory:" and "mode=memory" not in name
    if on_disk and not Path(str(name)).expanduser().is_file():
        return SchemaProblem("absent", f"no database file at {name}")
    try:
        revision = current(url)
    except SQLAlchemyError as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return SchemaProblem("unreachable", f"cannot read the database ({type(exc).__name__}: "
                                            f"{lines[0] if lines else 'no message'})")
    if revision is None:
        return SchemaProblem("unmigrated", "the database has no agentload tables (it was never migrated)")
    newest = head()
    if revision != newest:
        return SchemaProblem("outdated", f"the database schema is at revision {revision}, this version needs {newest}")
    return None


def schema_diff(url: str) -> list[Any]:
    """Alembic autogenerate diffs between the ORM metadata and the database (empty = in sync)."""
    import models

    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": compare_column_type})
        return list(compare_metadata(context, models.Base.metadata))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m models.migrate upgrade|downgrade|current|check [revision] [--url URL]``."""
    parser = argparse.ArgumentParser(prog="python -m models.migrate", description=__doc__)
    parser.add_argument("action", choices=("upgrade", "downgrade", "current", "check"))
    parser.add_argument("revision", nargs="?", help="target revision (upgrade: head; downgrade: required)")
    parser.add_argument("--url", help="database URL (default: AGENTLOAD_DATABASE_URL / settings)")
    args = parser.parse_args(argv)

    url: str = args.url or _default_url()
    if args.action == "upgrade":
        upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        if not args.revision:
            parser.error("downgrade needs a revision, e.g. 'base' or '0001_initial'")
        downgrade(url, args.revision)
    elif args.action == "current":
        print(current(url) or "(none)")
    else:
        diffs = schema_diff(url)
        for diff in diffs:
            print(diff)
        print("schema in sync" if not diffs else f"{len(diffs)} difference(s)", file=sys.stderr)
        return 1 if diffs else 0
    return 0


def _default_url() -> str:
    from agentload.settings import get_settings

    return get_settings().database_url


if __name__ == "__main__":
    raise SystemExit(main())
