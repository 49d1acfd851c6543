"""Fetch the JavaScript the built book needs, so its pages work with no internet access.

By default a Jupyter Book page loads three things from public CDNs: require.js, the Jupyter
widgets HTML manager (``embed-amd.js``, which turns saved widget state into live widgets) and
MathJax 3. This script takes pinned versions of the three npm packages with ``npm pack`` (the
npm registry's own client), checks each tarball against the sha512 integrity recorded below,
and copies the few files the pages use into ``_assets/vendor/``. ``_config.yml`` adds
``_assets`` to ``html_static_path`` and points ``nb_ipywidgets_js`` and ``mathjax_path`` at
these copies, so the built HTML never names a CDN.

Run it with ``python tools/js_assets.py`` (``make book`` and the test suite do it for you).
It does nothing when ``_assets/vendor/versions.json`` already matches the pins below.
To upgrade a package: change its version, set its integrity to the value that
``npm view NAME@VERSION dist.integrity`` prints, and run the script.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = REPO_ROOT / "_assets" / "vendor"
STAMP = VENDOR_DIR / "versions.json"


@dataclass(frozen=True)
class Package:
    """One pinned npm package and the part of its tarball the book serves."""

    name: str
    version: str
    integrity: str
    source_dir: str  # folder inside the tarball (tarballs unpack under "package/")
    target_dir: str  # folder under _assets/vendor/
    patterns: tuple[str, ...]  # fnmatch patterns of the files to copy, relative to source_dir


PACKAGES = (
    Package(
        name="requirejs",
        version="2.3.8",
        integrity="sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        source_dir="package",
        target_dir="requirejs",
        patterns=("require.js",),
    ),
    Package(
        name="@jupyter-widgets/html-manager",
        version="1.0.15",
        integrity="sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        source_dir="package/dist",
        target_dir="html-manager",
        # embed-amd.js plus the icon fonts its bundled CSS refers to (loaded relative to it)
        patterns=("embed-amd.js", "*.eot", "*.svg", "*.ttf", "*.woff", "*.woff2"),
    ),
    Package(
        name="mathjax",
        version="3.2.2",
        integrity="sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        source_dir="package/es5",
        target_dir="mathjax",
        # all of es5/: MathJax loads fonts, TeX extensions and menu parts on demand
        patterns=("*",),
    ),
)


def wanted_versions() -> dict[str, str]:
    return {package.name: package.version for package in PACKAGES}


def is_up_to_date() -> bool:
    if not STAMP.is_file():
        return False
    return json.loads(STAMP.read_text()) == wanted_versions()


def pack(packages: tuple[Package, ...], into: Path) -> dict[str, Path]:
    """Download the tarballs with ``npm pack``; return {package name: tarball path}."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit(
            "tools/js_assets.py: `npm` was not found. The book serves require.js, the widget "
            "manager and MathJax from local copies taken from the npm registry; install Node.js "
            "and npm once (Debian: `apt-get install -y npm`) and run the command again."
        )
    specs = [f"{package.name}@{package.version}" for package in packages]
    result = subprocess.run(
        [npm, "pack", "--json", "--pack-destination", str(into), *specs],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"tools/js_assets.py: `npm pack {' '.join(specs)}` failed:\n{result.stderr}")
    packed = json.loads(result.stdout)
    tarballs: dict[str, Path] = {}
    for package, info in zip(packages, packed, strict=True):
        if info["integrity"] != package.integrity:
            sys.exit(
                f"tools/js_assets.py: {package.name}@{package.version} has integrity "
                f"{info['integrity']}, but {package.integrity} is pinned. Check the version "
                "and the pinned value in tools/js_assets.py."
            )
        tarballs[package.name] = into / info["filename"]
    return tarballs


def extract(package: Package, tarball: Path, staging: Path) -> int:
    """Copy the files of ``package`` that the book serves into ``staging``; return how many."""
    prefix = package.source_dir + "/"
    copied = 0
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.startswith(prefix):
                continue
            relative = member.name[len(prefix):]
            if not any(fnmatch.fnmatch(relative, pattern) for pattern in package.patterns):
                continue
            target = staging / package.target_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None  # a regular file always has content
            target.write_bytes(source.read())
            copied += 1
    if copied == 0:
        sys.exit(f"tools/js_assets.py: nothing under {prefix} in {tarball.name}; fix PACKAGES.")
    return copied


def main() -> None:
    if is_up_to_date():
        print(f"JS assets up to date in {VENDOR_DIR.relative_to(REPO_ROOT)}/")
        return
    with tempfile.TemporaryDirectory(prefix="distlab-js-") as tmp:
        tarballs = pack(PACKAGES, Path(tmp))
        staging = Path(tmp) / "vendor"
        for package in PACKAGES:
            count = extract(package, tarballs[package.name], staging)
            print(f"  {package.name}@{package.version}: {count} files -> {package.target_dir}/")
        (staging / "versions.json").write_text(json.dumps(wanted_versions(), indent=2) + "\n")
        if VENDOR_DIR.exists():
            shutil.rmtree(VENDOR_DIR)
        VENDOR_DIR.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(VENDOR_DIR))
    print(f"JS assets written to {VENDOR_DIR.relative_to(REPO_ROOT)}/")


if __name__ == "__main__":
    main()
