"""The pinned environment: pyproject and environment.yml agree, torch stays the pinned CPU build."""
import re
import tomllib

import yaml

from conftest import REPO


def _pyproject_pins():
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"]) + list(data["project"]["optional-dependencies"]["dev"])
    pins = {}
    for req in reqs:
        name, _, version = req.partition("==")
        assert version, f"pyproject.toml: {req!r} is not pinned exactly"
        pins[name.strip().lower()] = version.strip()
    return pins


def _environment_pins():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for req in dep["pip"]:
                if "==" in req:
                    name, version = req.split("==")
                    pins[name.lower()] = version
        elif dep.startswith("pytorch="):
            pins["torch"] = dep.split("=")[1]
        elif dep.startswith("python="):
            pins["python"] = dep.split("=")[1]
    return pins


def test_environment_yml_matches_pyproject():
    py, conda = _pyproject_pins(), _environment_pins()
    assert conda.pop("python") == "3.11"
    assert py == conda


def test_installed_versions_are_the_pinned_ones():
    from importlib.metadata import version

    for name, pinned in _pyproject_pins().items():
        installed = version(name)
        assert re.sub(r"\+.*$", "", installed) == pinned, f"{name}: installed {installed}, pinned {pinned}"


def test_makefile_installs_torch_first_and_pinned():
    text = (REPO / "Makefile").read_text()
    torch_line = text.index("torch==2.13.0")
    assert torch_line < text.index("-e '.[dev]'")
    assert "HF_HUB_OFFLINE := 1" in text


def test_readme_opens_with_the_two_commands():
    head = (REPO / "README.md").read_text().split("\n## ")[0]
    assert "make reproduce" in head and "make test" in head


def test_ci_runs_make_test():
    assert "make test" in (REPO / ".ci" / "run").read_text()
