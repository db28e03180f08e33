"""tools/setup: what the lab needs, found, installed by root, or asked of an
ordinary user in one command."""
import os
import re
import shutil
import subprocess

import labrun
from conftest import path_without

SETUP = labrun.ROOT / "tools" / "setup"
NOBODY = 65534


def as_ordinary_user(argv, env):
    """Runs argv as the user nobody when we are root (who would install)."""
    drop = None
    if os.geteuid() == 0:
        def drop():
            os.setgid(NOBODY)
            os.setuid(NOBODY)
    return subprocess.run(argv, env=env, capture_output=True, text=True,
                          preexec_fn=drop, timeout=30 * labrun.SCALE)


def listed_packages():
    rows = re.findall(r"^([a-z0-9.+-]+)\|", SETUP.read_text(), re.M)
    assert rows, "tools/setup lists no package"
    return rows


def test_an_ordinary_user_gets_one_command_and_the_suite_runs_what_it_can():
    scratch = labrun.scratch_dir("lab-setup-", parent=labrun.RUN_PARENT)
    try:
        os.chmod(scratch, 0o755)
        path = path_without(scratch / "bin",
                            ("socat", "nc", "nc.openbsd", "strace"))
        done = as_ordinary_user([str(SETUP), "suite"],
                                dict(os.environ, PATH=path))
    finally:
        shutil.rmtree(scratch)
    assert done.returncode == 0, done.stderr
    assert "socat: the checks talk to the lab's programs with socat" in \
        done.stderr
    assert "    sudo apt-get install strace socat netcat-openbsd\n" in \
        done.stderr, done.stderr
    assert "make test runs the tests it can, and names those it skips" in \
        done.stderr
    assert os.access(done.stdout.strip(), os.X_OK)


def test_the_readme_names_every_package_the_suite_installs():
    readme = (labrun.ROOT / "README.md").read_text()
    start = readme.split("## Start here", 1)[1].split("\n## ", 1)[0]
    for package in listed_packages():
        assert f"`{package}`" in start, \
            f"README.md, Start here, does not name {package} (tools/setup)"
