"""Projects as BMad's workflows leave them, for the project-context tests (plain imports).

Each project is a writable copy of a real installed tree (``data/bmad-layouts``) plus the files
its workflows write: a sprint status made from the release's own ``sprint-status-template.yaml``,
a v6 alpha ``bmm-workflow-status.yaml`` filled from ``workflow-status-template.yaml`` with the
items of the path file, as ``workflow-init`` builds it, and documents where the configuration
says they go. No alpha release was installed, so the alpha project gets the configuration its
``module.yaml`` files define (the values their prompts default to).
"""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LAYOUTS = REPO / "data" / "bmad-layouts"
ALPHA = REPO / "data" / "bmad-method-v6"
ALPHA_STATUS = ALPHA / "src/modules/bmm/workflows/workflow-status"
SPRINT_TEMPLATES = {
    "v6.0.4-installed": "_bmad/bmm/workflows/4-implementation/sprint-planning/sprint-status-template.yaml",
    "v6.12.0-installed": ".claude/skills/bmad-sprint-planning/sprint-status-template.yaml",
}


def installed(tree: str, dest: Path) -> Path:
    """A writable copy of ``data/bmad-layouts/<tree>`` at ``dest``."""
    shutil.copytree(LAYOUTS / tree, dest, symlinks=True)
    for path in [dest, *dest.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dest


def write(project: Path, rel: str, text: str = "# written by a workflow\n") -> Path:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sprint_status(project: Path, tree: str, rel: str, statuses: dict[str, str] | None = None) -> Path:
    """``rel`` written from the tree's own template; ``statuses`` replace entries' values."""
    text = (LAYOUTS / tree / SPRINT_TEMPLATES[tree]).read_text()
    for key, value in (statuses or {}).items():
        text, n = re.subn(rf"(?m)^(\s+{re.escape(key)}:)\s*\S+", rf"\1 {value}", text)
        assert n == 1, key
    return write(project, rel, text)


def alpha_project(dest: Path, statuses: dict[str, str], *, track: str = "method", field: str = "greenfield",
                  status_file: bool = True) -> Path:
    """An alpha project: ``_bmad/<module>/config.yaml`` from the modules' defaults and, with
    ``status_file``, ``bmm-workflow-status.yaml`` where ``workflow-init`` saves it
    (``{planning_artifacts}``), every path item at its initial status unless ``statuses`` says."""
    core = yaml.safe_load((ALPHA / "src/core/module.yaml").read_text())
    bmm = yaml.safe_load((ALPHA / "src/modules/bmm/module.yaml").read_text())
    output = core["output_folder"]["default"]
    config = {k: str(v["default"]).replace("{output_folder}", output) for k, v in bmm.items()
              if isinstance(v, dict) and "default" in v and k.endswith(("artifacts", "knowledge"))}
    write(dest, "_bmad/core/config.yaml", yaml.safe_dump({"user_name": "Dev", "output_folder": output}))
    write(dest, "_bmad/bmm/config.yaml", yaml.safe_dump({"project_name": dest.name, "output_folder": output,
                                                         **{k: f"{{project-root}}/{v}" for k, v in config.items()}}))
    if not status_file:
        return dest
    path_file = f"{track}-{field}.yaml"
    phases = yaml.safe_load((ALPHA_STATUS / "paths" / path_file).read_text())["phases"]
    items = []
    for phase in phases:
        items.append(f"  # Phase {phase['phase']}: {phase['name']}")
        for wf in phase["workflows"]:
            initial = next((k for k in ("required", "conditional", "recommended", "optional") if wf.get(k)), "optional")
            items.append(f"  {wf['id']}: {statuses.get(wf['id'], initial)}")
    template = (ALPHA_STATUS / "workflow-status-template.yaml").read_text()
    filled = (template.replace('"{{workflow_items}}"', "\n" + "\n".join(items))
              .replace("{{generated}}", "2025-11-03").replace("{{project_name}}", dest.name)
              .replace("{{project_type}}", "software").replace("{{selected_track}}", track)
              .replace("{{field_type}}", field).replace("{{workflow_path_file}}", path_file))
    write(dest, f"{config['planning_artifacts']}/bmm-workflow-status.yaml", filled)
    return dest
