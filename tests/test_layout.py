"""The shape of core/: subpackages one level deep, small modules, no import cycles, no streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

from core.config import PROJECT_ROOT

CORE = PROJECT_ROOT / "core"
MODULES = {".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__"): path
           for path in sorted(CORE.rglob("*.py"))}
MAX_LINES = 300
LONGER = {"core.config": 360}  # every setting in one module: it grows with each feature's variables
LONGER["core.service"] = 340  # the one way in: each feature adds its few entry points there
LONGER["core.robustness.corruptions"] = 460  # the 15 published corruption definitions, in one module


def _imports(module: str, path: Path) -> set[str]:
    """Modules of core that `module` imports, at the top or inside a function (a lazy import still
    ties the two modules together)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(MODULES)
            found.update(submodules)  # `from core import config` imports core.config
            if len(submodules) < len(node.names):  # and names defined in the package itself
                found.add(node.module)
    return {name for name in found if name in MODULES and name != module}


def test_no_module_is_too_long_and_packages_are_one_level_deep():
    too_long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > LONGER.get(name, MAX_LINES)}
    assert too_long == {}
    assert max(len(path.relative_to(CORE).parts) for path in MODULES.values()) <= 2


def test_core_never_imports_streamlit():
    assert [name for name, path in MODULES.items() if "streamlit" in _imports_anything(path)] == []


def _imports_anything(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_import_cycles():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    cycles, done = [], set()

    def visit(name: str, trail: list[str]) -> None:  # depth first; `trail` is the current path
        for imported in sorted(graph[name]):
            if imported in trail:
                cycles.append(" -> ".join(trail[trail.index(imported):] + [imported]))
            elif imported not in done:
                visit(imported, trail + [imported])
        done.add(name)

    for start in graph:
        if start not in done:
            visit(start, [start])
    assert cycles == []


def test_every_page_first_joins_the_app_navigation():
    """The call must be a statement of the page's own script, before anything is drawn (see
    pages.widgets.use_app_navigation); a call made while importing a module raced other sessions."""
    for path in sorted((PROJECT_ROOT / "pages").glob("*.py")):
        if path.name == "widgets.py":
            continue
        body = [node for node in ast.parse(path.read_text()).body
                if not isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign))
                and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]  # the docstring
        first = body[0]
        assert isinstance(first, ast.Expr) and ast.unparse(first) == "use_app_navigation()", path.name
    widgets = ast.parse((PROJECT_ROOT / "pages" / "widgets.py").read_text())
    assert not [node for node in widgets.body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]


def test_the_app_shows_users_no_tracebacks():
    import tomllib

    settings = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["showErrorDetails"] == "none"
