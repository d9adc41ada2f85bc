"""The test suites' layout: a conftest module is pytest's, never imported by a test module.

Fixtures more than one directory uses are plugins of tests/conftest.py (`pytest_plugins`);
helpers and types live in tests/support and are imported from there.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def conftest_imports(path: Path) -> list[str]:
    """`line: statement` for every import in `path` of a module named `conftest`."""
    text = path.read_text()
    if "conftest" not in text:
        return []
    found = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
            modules += [f"{node.module or ''}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        if any("conftest" in module.split(".") for module in modules):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_imports_from_a_conftest() -> None:
    offenders = {
        str(path.relative_to(TESTS)): imports
        for path in sorted(TESTS.rglob("*.py"))
        if (imports := conftest_imports(path))
    }
    assert offenders == {}, (
        "import fixtures through `pytest_plugins` in tests/conftest.py and helpers from "
        "tests/support, not from a conftest"
    )


def test_the_check_sees_each_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "import tests.integration.api.conftest\n"
        "from tests.e2e.conftest import ControlPlane\n"
        "from tests.e2e import conftest\n"
        "from . import conftest as local\n"
        "from tests.support.api import Api\n"
    )
    assert [line.split(":")[0] for line in conftest_imports(module)] == ["1", "2", "3", "4"]
