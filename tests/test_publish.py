"""The repository is ready to publish: one address, a Pages workflow, a launch environment.

- The repository's address is written in `_config.yml` (``repository.url``) and nowhere else
  in the files a fork would have to edit: the launch buttons and source links are built from it.
- `.github/workflows/pages.yml` builds the book as `make book` does and uploads `_build/html`.
- The environment a launch button starts (`binder/`) installs what `environment.yml` does: the
  same conda packages, then the package with the same extras (`binder/postBuild`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def load(path: str) -> dict:
    return yaml.safe_load((REPO_ROOT / path).read_text())


def pip_lines(environment: dict) -> list[str]:
    return [line for item in environment["dependencies"] if isinstance(item, dict)
            for line in item.get("pip", [])]


def conda_packages(environment: dict) -> list[str]:
    return [item for item in environment["dependencies"] if isinstance(item, str)]


def test_the_repository_address_is_set_in_one_place() -> None:
    config = load("_config.yml")
    url = config["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    assert config["html"]["use_repository_button"] and config["html"]["use_issues_button"]
    assert config["launch_buttons"]["binderhub_url"]
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    elsewhere = [
        name for name in tracked
        if name != "_config.yml" and name.endswith((".md", ".yml", ".yaml", ".toml", ".py",
                                                    ".cfg", ".txt", ".html", ".js"))
        and url in (REPO_ROOT / name).read_text(errors="replace")
    ]
    assert not elsewhere, f"the repository's address is also written in {elsewhere}"


def test_the_launch_environment_installs_what_environment_yml_does() -> None:
    root, binder = load("environment.yml"), load("binder/environment.yml")
    assert conda_packages(binder) == conda_packages(root)
    assert not pip_lines(binder), "Binder builds binder/environment.yml before the repository"
    post_build = REPO_ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    installs = re.findall(r"pip install [^\n]*?(-e \S+)", post_build.read_text())
    assert installs == pip_lines(root), (installs, pip_lines(root))


def test_the_pages_workflow_builds_the_book_and_uploads_it() -> None:
    workflow = load(".github/workflows/pages.yml")
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    runs = " ".join(step.get("run", "") for step in steps)
    uses = [step.get("uses", "") for step in steps]
    assert "make book" in runs
    upload = next(step for step in steps
                  if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert any(name.startswith("actions/deploy-pages") for name in uses)
    assert workflow["permissions"]["pages"] == "write"
