"""resources/ travels with the package: a non-editable `pip install .` into a fresh virtual
environment (its dependencies from this interpreter's site-packages: nothing is downloaded),
then `viscause-gui --lesson barometer` starts offscreen, opens the lesson and quits by itself.

It must pass in the bare venv the README's test command installs into (issue 21: it failed there
with "invalid command 'bdist_wheel'", and a venv made by a venv's Python sees the *base*
interpreter's packages, not the venv's). So the fresh venv sees exactly this interpreter's
site-packages (a .pth file naming them), and the build uses the setuptools that `.[test]`
installs there (it requires one that builds wheels by itself: Python 3.12 venvs have none).
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "venv",
                                 ".venv", "runs", "benchmarks", "tests", "docs", "sample_data", "scripts")


@pytest.mark.install
@pytest.mark.timeout(600)
def test_installed_package_opens_a_shipped_lesson(tmp_path):
    source = tmp_path / "src"            # build from a copy: the build leaves nothing in the working tree
    shutil.copytree(ROOT, source, ignore=IGNORED)
    venv = tmp_path / "venv"
    # without pip of its own (a venv's bundled setuptools would shadow this interpreter's, which builds wheels),
    # and seeing this interpreter's packages: `--system-site-packages` would show the base Python's instead
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "outer_site_packages.pth").write_text("".join(f"{d}\n" for d in our_site_packages()))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-build-isolation", "--no-index", "-q", str(source)], check=True, cwd=tmp_path, timeout=300)
    shutil.rmtree(source)                # what runs below can only be the installed copy
    where = subprocess.run([str(python), "-c", "import viscause_gui.core.lessons as l; print(l.resources_dir()); "
                            "print(sorted(l.shipped_lessons()))"], check=True, cwd=tmp_path, capture_output=True,
                           text=True).stdout.splitlines()
    resources = Path(where[0])
    assert resources.is_relative_to(venv), where
    assert where[1] == "['barometer', 'causal_coarsening', 'digits', 'learning_to_manipulate']"
    for name in ("icons/viscause.svg", "icons/viscause-64.png", "presenter.qss", "viscause.desktop",
                 "examples/grating_example.vcsession", "lessons/01_barometer.json"):
        assert (resources / name).is_file(), name
    home = tmp_path / "home"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_RUNTIME_DIR": str(home), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([str(bin_dir / "viscause-gui"), "--lesson", "barometer", "--quit-after", "3"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    settings = (home / "config" / "viscause" / "viscause_gui.conf").read_text()
    assert "on=true" in settings.replace(" ", "")          # the lesson turned presenter mode on


def our_site_packages() -> list[str]:
    """The folders this interpreter imports installed packages from (a venv's, the user's, the system's)."""
    folders = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    return [d for d in dict.fromkeys(folders) if Path(d).is_dir()]


def test_the_build_needs_nothing_the_test_extra_does_not_install():
    """The install above builds without isolation (nothing downloaded): with this interpreter's setuptools,
    which `.[test]` requires in a version that builds wheels itself (>= 70.1, no `wheel` package needed)."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    test_extra = pyproject["project"]["optional-dependencies"]["test"]
    assert any(r.replace(" ", "").startswith("setuptools>=70.1") for r in test_extra), test_extra
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"


def test_every_package_is_listed_for_the_install():
    """pyproject.toml names the packages (so that resources/ can be mapped into the package): a new
    sub-package must be added there, or the install would lack it."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "viscause_gui").rglob("__init__.py")}
    assert listed == on_disk | {"viscause_gui.resources"}
    assert (ROOT / "resources" / "lessons").is_dir() and not (ROOT / "viscause_gui" / "resources").exists()
