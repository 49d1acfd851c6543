"""`make test` installs the system packages it needs itself (tools/system_packages.sh).

A fresh machine has no npm or Chromium; the README's one command must still work. The script
is run here with stand-ins for ``id``, ``sudo`` and ``apt-get`` on its PATH, so each way it can
go is tried without touching the machine's packages.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "system_packages.sh"


def run(tmp_path: Path, *, uid: int, sudo_works: bool, apt: bool = True,
        packages: tuple[str, ...] = ("npm",)) -> subprocess.CompletedProcess:
    """Run the script on a PATH that has no npm, with a fake id, sudo and apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fakes = {"id": f"echo {uid}",
             "sudo": f'[ "$1" = -n ] && [ "$2" = true ] && exit {0 if sudo_works else 1}\n'
                     f'echo "sudo $*" >> {calls}; "$@"'}
    if apt:
        fakes["apt-get"] = f'echo "apt-get $*" >> {calls}'
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/bin/no-such-dir"}
    done = subprocess.run(["/bin/bash", str(SCRIPT), *packages], env=env, capture_output=True,
                          text=True, timeout=60)
    done.calls = calls.read_text() if calls.exists() else ""  # type: ignore[attr-defined]
    return done


def test_as_root_it_installs_what_is_missing_with_apt(tmp_path: Path) -> None:
    done = run(tmp_path, uid=0, sudo_works=False)
    assert done.returncode == 0, done.stderr
    assert done.calls == "apt-get update -q\napt-get install -y -q npm\n"


def test_as_a_user_with_sudo_it_installs_through_sudo(tmp_path: Path) -> None:
    done = run(tmp_path, uid=1000, sudo_works=True)
    assert done.returncode == 0, done.stderr
    assert "sudo apt-get install -y -q npm" in done.calls


def test_without_root_or_sudo_it_prints_the_exact_command_and_fails(tmp_path: Path) -> None:
    done = run(tmp_path, uid=1000, sudo_works=False)
    assert done.returncode == 1 and done.calls == ""
    assert "sudo sh -c 'apt-get update -q && apt-get install -y -q npm'" in done.stderr


def test_without_apt_it_says_what_to_install(tmp_path: Path) -> None:
    done = run(tmp_path, uid=0, sudo_works=False, apt=False)
    assert done.returncode == 1 and "no apt-get: install npm" in done.stderr


def test_it_does_nothing_when_everything_is_there(tmp_path: Path) -> None:
    done = run(tmp_path, uid=1000, sudo_works=False, packages=())
    assert done.returncode == 0 and done.calls == ""


def test_make_test_s_coordination_servers_are_installed_by_package_name(tmp_path: Path) -> None:
    done = run(tmp_path, uid=0, sudo_works=False, packages=("etcd-server",))
    assert done.returncode == 0, done.stderr
    assert done.calls == "apt-get update -q\napt-get install -y -q etcd-server\n"
