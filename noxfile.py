"""nox sessions: build fastws and run the whole test suite on every supported CPython.

    nox                                   # tests on 3.10 ... 3.13, cwarnings (clang)
    nox -s tests-3.10 tests-3.13          # one version each
    nox --envdir /tmp/fastws-nox          # keep virtualenvs out of the work tree
    bash tools/nox_ci.sh                  # what CI runs: the oldest and the newest

Each session copies the work tree (tracked and untracked-but-not-ignored files) to a
temp dir, installs it non-editable with the ``test`` extra (FASTWS_BUILD_EXTENSION=yes,
so a failed extension build fails the session), and runs the suite from an empty
directory, so that it tests the installed package, not src/. The suite runs every test
on both implementations. ``tests`` compiles with gcc -Wall -Wextra -Werror, Cython's
output included (FASTWS_STRICT_WARNINGS=1); ``cwarnings`` does the same with clang.
Interpreters are found on PATH, and in pyenv's versions when pyenv is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
# 3.14 and 3.15 are not on this machine image (pyenv has 3.10-3.13): tools/debian_python.sh runs
# the suite on them in a Debian unstable chroot, tools/freethreaded.sh on a 3.14t built from source.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.sessions = ["tests", "cwarnings"]
nox.options.error_on_missing_interpreters = True  # a version that is not there fails, never skips
nox.options.download_python = "never"


def _add_pyenv_versions_to_path() -> None:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    versions = sorted(Path(root, "versions").glob("3.*/bin"), reverse=True)
    if versions:
        # Before pyenv's shims, which only run the versions that pyenv has activated.
        os.environ["PATH"] = os.pathsep.join([*map(str, versions), os.environ.get("PATH", "")])


_add_pyenv_versions_to_path()


def _copy_work_tree(session: nox.Session) -> Path:
    """The work tree as git sees it, in a fresh temp dir: builds never touch src/."""
    destination = Path(session.create_tmp()) / "fastws"
    shutil.rmtree(destination, ignore_errors=True)
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a deleted but still tracked file is listed too
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def _install(session: nox.Session, source: Path, cc: str) -> None:
    env = {"FASTWS_BUILD_EXTENSION": "yes", "FASTWS_STRICT_WARNINGS": "1", "CC": cc}
    session.install(f"{source}[test]", env=env)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite (both implementations) against the installed package."""
    source = _copy_work_tree(session)
    _install(session, source, "gcc")
    run = Path(session.create_tmp()) / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    session.chdir(run)
    session.run(
        "python",
        "-m",
        "pytest",
        str(source / "tests"),
        "-p",
        "nox_installed_check",
        "-p",
        "no:cacheprovider",
        "-q",
        *session.posargs,
        # The browser test checks the chat example in Chromium, not the build: .ci/run runs it;
        # so are the Redis tests (redis-py is an extra, and needs Python 3.10+).
        env={"PYTHONPATH": str(source / "tools"), "FASTWS_NO_BROWSER_TESTS": "1", "FASTWS_NO_REDIS_TESTS": "1"},
    )


@nox.session(python=PYTHONS)
def cwarnings(session: nox.Session) -> None:
    """The extension, Cython's C included, builds with clang -Wall -Wextra -Werror."""
    if not shutil.which("clang"):
        session.error("clang is not installed")
    source = _copy_work_tree(session)
    _install(session, source, "clang")
    session.run("python", "-c", "import fastws; assert fastws.implementation == 'cython', fastws.implementation_error")
