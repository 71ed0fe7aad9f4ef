"""environment.yml only brings Python and pip; pyproject.toml holds the dependencies."""
import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_environment_installs_the_package_with_pip():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    assert conda == ["python=3.11", "pip"], "conda packages belong in pyproject.toml"
    pip_lines = next(d["pip"] for d in deps if isinstance(d, dict))
    assert len(pip_lines) == 1
    match = re.fullmatch(r"-e \.\[([\w,]+)\]", pip_lines[0])
    assert match, pip_lines
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(match.group(1).split(",")) <= set(project["optional-dependencies"])
    assert project["requires-python"] == ">=3.11"
