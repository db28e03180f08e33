"""The deliberate errors: each variant shows the outcome lessons/errors.json
declares for it, on this kernel, and leaves nothing behind.

One test per variant, named after it (test_bind_existing_path for
lessons/02-bind/errors/bind-existing-path.c); the comparison is the one
`make errors` makes (labrun.run_variant). A variant that needs what the kernel
refuses here (a user namespace, say) is skipped, with the kernel's answer
as the reason; nowhere else is a variant skipped.
"""
import contextlib
import os
import re
import signal
import socket
import subprocess
import time

import pytest

import labrun
import manifest

# Each variant may run in any process of a parallel run (conftest.spread).
SPREAD = True


def check(variant):
    def test():
        result = labrun.run_variant(variant)
        if result.skipped:
            pytest.skip(result.skipped)
        assert result.ok, result.report()
    test.__doc__ = variant["meaning"]
    return test


for _variant in manifest.variants():
    _name = "test_" + _variant["name"].replace("-", "_")
    assert _name not in globals(), f"two variants named {_variant['name']}"
    globals()[_name] = check(_variant)


def test_every_variant_is_in_the_catalogue():
    built = {p.stem for p in manifest.ROOT.glob("lessons/*/errors/*.c")}
    declared = {v["name"] for v in manifest.variants()}
    assert built == declared, (
        f"variants without a declared outcome: {sorted(built - declared)}; "
        f"declared but missing: {sorted(declared - built)}")


def test_every_variant_has_a_watchdog():
    for source in manifest.ROOT.glob("lessons/*/errors/*.c"):
        assert "watchdog();" in source.read_text(), (
            f"{source.name} never calls watchdog(): a variant must not be "
            f"able to hang")


def test_each_lesson_readme_presents_its_variants():
    for lesson in sorted({v["lesson"] for v in manifest.variants()}):
        text = (manifest.ROOT / "lessons" / lesson / "README.md").read_text()
        assert "\n## Deliberate errors\n" in text, (
            f"lessons/{lesson}/README.md has no section Deliberate errors")
        section = text.split("\n## Deliberate errors\n", 1)[1]
        section = section.split("\n## ", 1)[0]
        for v in manifest.variants(lesson):
            assert f"`{v['name']}`" in section, (
                f"the Deliberate errors section of lessons/{lesson}/README.md"
                f" does not present {v['name']}")


def test_the_errors_document_is_up_to_date():
    document = manifest.ROOT / "lessons" / "ERRORS.md"
    assert document.read_text(encoding="utf-8") == manifest.errors_markdown(), (
        "lessons/ERRORS.md differs from lessons/errors.json: run "
        "tools/lab.py errors --markdown > lessons/ERRORS.md")


def test_a_variant_whose_need_the_kernel_refuses_is_reported_not_run(
        monkeypatch):
    variant = dict(manifest.variants()[0], needs="a user namespace")
    monkeypatch.setitem(labrun.NEEDS, "a user namespace",
                        lambda: "refused on this kernel")
    result = labrun.run_variant(variant)
    assert result.skipped == "refused on this kernel"
    assert result.events == [] and result.proc is None


# -- every errno the lab can meet has its explanation ------------------------

# The errnos a lab program can meet, for each traced call: those the
# variants provoke, and those that bad input, a learner's slip or an
# ordinary machine can bring (a path, a limit, a signal, a timeout). Not
# here: what cannot happen on a Unix domain socket (the Internet domain's
# and the file system's own errors) and the kernel out of memory, which
# lessons/errors.json lists; the trace answers those with a pointer to the
# man pages.
CAN_MEET = {
    "socket": "EAFNOSUPPORT EINVAL EPROTONOSUPPORT ESOCKTNOSUPPORT EMFILE "
              "ENFILE",
    "socketpair": "EAFNOSUPPORT EOPNOTSUPP EPROTONOSUPPORT ESOCKTNOSUPPORT "
                  "EINVAL EMFILE ENFILE EFAULT",
    "bind": "EADDRINUSE EACCES EBADF EFAULT EINVAL ELOOP ENAMETOOLONG ENOENT "
            "ENOTDIR ENOTSOCK EROFS EPERM",
    "listen": "EBADF EINVAL ENOTSOCK EOPNOTSUPP",
    "accept": "EAGAIN EBADF EFAULT EINTR EINVAL EMFILE ENFILE ENOTSOCK "
              "EOPNOTSUPP",
    "connect": "EACCES EAGAIN EBADF ECONNREFUSED EFAULT EINTR EINVAL EISCONN "
               "ELOOP ENAMETOOLONG ENOENT ENOTDIR ENOTSOCK EPROTOTYPE EROFS "
               "EPERM",
    "read": "EAGAIN EBADF ECONNRESET EFAULT EINTR EINVAL ENOTCONN",
    "recv": "EAGAIN EBADF ECONNRESET EFAULT EINTR EINVAL ENOTCONN ENOTSOCK",
    "write": "EAGAIN EBADF EFAULT EINTR EMSGSIZE ENOTCONN EPIPE",
    "send": "EAGAIN EBADF EFAULT EINTR EMSGSIZE ENOTCONN ENOTSOCK EOPNOTSUPP "
            "EPIPE",
    "shutdown": "EBADF EINVAL ENOTSOCK",
    "close": "EBADF",
    "unlink": "EACCES ENOENT",
    "waitpid": "ECHILD EINTR",
    "fork": "EAGAIN",
    "kill": "ESRCH EINVAL",
    "poll": "EINTR EFAULT EINVAL",
    "fcntl": "EBADF EINVAL EMFILE",
    "accept4": "EAGAIN EBADF EFAULT EINTR EINVAL EMFILE ENFILE ENOTSOCK "
               "EOPNOTSUPP",
    "sendto": "EAGAIN EBADF EFAULT EINTR EMSGSIZE ENOTCONN ENOTSOCK "
              "EOPNOTSUPP EPIPE ENOENT ECONNREFUSED EPROTOTYPE EPERM",
    "sendmsg": "EAGAIN EBADF EFAULT EINTR EMSGSIZE ENOTCONN ENOTSOCK "
               "EOPNOTSUPP EPIPE ENOENT ECONNREFUSED EPROTOTYPE",
    "recvfrom": "EAGAIN EBADF EFAULT EINTR EINVAL ENOTCONN ENOTSOCK",
    "recvmsg": "EAGAIN EBADF EFAULT EINTR EINVAL ENOTCONN ENOTSOCK",
    "sigaction": "EINVAL EFAULT",
    "signal": "EINVAL",
}
# A call whose rows are another's too (trace.c, explained_as).
EXPLAINED_AS = {"accept4": "accept", "sendto": "send", "sendmsg": "send",
                "recvfrom": "recv", "recvmsg": "recv", "signal": "sigaction"}


def explained():
    """The (call, errno) rows of trace/explanations.def."""
    table = (manifest.ROOT / "trace" / "explanations.def").read_text()
    return set(re.findall(r'^EXPLAIN\("([^"]+)", (E[A-Z0-9]+),', table,
                          re.M))


def test_every_errno_the_lab_can_meet_has_an_explanation():
    rows = explained()
    provoked = {(e["call"], e["errno"]) for v in manifest.variants()
                for e in v["expect"] if e.get("errno")}
    meet = provoked | {(call, name) for call, names in CAN_MEET.items()
                       for name in names.split()}
    missing = sorted(f"{call} {name}" for call, name in meet
                     if (call, name) not in rows and ("*", name) not in rows
                     and (EXPLAINED_AS.get(call), name) not in rows)
    assert not missing, (
        "errnos a lab program can meet, with no row in "
        f"trace/explanations.def (for the call, or for \"*\"): {missing}")
    listed = {(call, name) for call, names in CAN_MEET.items()
              for name in names.split()}
    assert provoked <= listed, (
        f"a variant provokes errnos that CAN_MEET does not list: "
        f"{sorted(provoked - listed)}")


# -- a variant leaves alone what it did not make ----------------------------

# Each name a variant's source spells: its socket files, the files, links
# and directories it makes, and the names it expects to find missing.
NAMED = re.compile(r'"([A-Za-z0-9_-]*\.[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*)"'
                   r'|#define \w+ "([A-Za-z0-9_.-]+)"'
                   r'|symlink\([^,]+, "([A-Za-z0-9_.-]+)"\)')
# Well before the variant's own watchdog (variant.h, WATCHDOG_SECONDS).
PROMPTLY = 3.0


def names_in(source):
    text = source.read_text()
    names = {n for groups in NAMED.findall(text) for n in groups if n}
    return sorted(n for n in names if not n.endswith((".h", ".c")))


def executable(variant):
    return (labrun.BUILD / "lessons" / variant["lesson"] / "errors" /
            variant["name"])


def run_alone(command, cwd, env=None, limit=PROMPTLY):
    """Runs command in its own session; returns (status, stderr, seconds).

    Its output ends only when every process of the variant has ended (they
    all hold it), so a peer left waiting makes the run too slow."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("LAB_") or k == "LAB_BUILD"}
    environment.update({"LAB_TRACE": "0"}, **(env or {}))
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, env=environment,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=limit + 7)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, err, time.monotonic() - start


def planted_cases():
    for variant in manifest.variants():
        source = (manifest.ROOT / "lessons" / variant["lesson"] / "errors" /
                  (variant["name"] + ".c"))
        for name in names_in(source):
            yield pytest.param(variant, name,
                               id=f"{variant['name']}:{name}")


@pytest.mark.parametrize("variant,name", list(planted_cases()))
def test_a_variant_leaves_a_file_of_its_users_alone(variant, name, tmp_path):
    """A user's file at a name the variant uses is neither removed nor
    replaced: the variant gives up (setup failed, status 2) or does not
    need the name, and ends promptly either way."""
    planted = tmp_path / name
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("the user's notes\n")
    before = planted.stat()
    status, err, seconds = run_alone([str(executable(variant))], tmp_path)
    after = os.lstat(planted)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode), (
        f"{variant['name']} replaced the user's file {name}")
    assert planted.read_text() == "the user's notes\n", (
        f"{variant['name']} wrote into the user's file {name}")
    assert status in (0, 2), f"{variant['name']} ended with {status}: {err}"
    if status == 2:
        assert "setup failed" in err, err
    assert seconds < PROMPTLY, (
        f"{variant['name']} took {seconds:.1f} s with {name} in its way")


# The variants that make a name, or count on its absence, for their mistake.
NEEDS_THE_NAME = [
    ("socket-file-outlives-close", "lab.sock"),
    ("connect-before-listen", "lab.sock"),
    ("bind-existing-path", "lab.sock"),
    ("bind-autobind", "lab.sock"),
    ("bind-missing-directory", "no-such-dir"),
    ("connect-no-server", "lab.sock"),
    ("send-to-missing-collector", "log.sock"),
    ("send-to-gone-collector", "log.sock"),
    ("bind-not-a-socket", "notes.txt"),
]


@pytest.mark.parametrize("name,path", NEEDS_THE_NAME,
                         ids=[n for n, _ in NEEDS_THE_NAME])
def test_a_variant_whose_name_is_taken_gives_up(name, path, tmp_path):
    """A variant whose name is a file already (the user's) says setup failed
    and ends with status 2, at once, its peers too."""
    variant = next(v for v in manifest.variants() if v["name"] == name)
    (tmp_path / path).write_text("the user's notes\n")
    status, err, seconds = run_alone([str(executable(variant))], tmp_path)
    assert status == 2 and "setup failed" in err, (status, err)
    assert seconds < PROMPTLY, f"{name} took {seconds:.1f} s to give up"
    assert (tmp_path / path).read_text() == "the user's notes\n"


def test_a_variant_leaves_a_live_server_alone(tmp_path):
    """A server of the user's listening on the variant's socket file keeps
    its file, and the variant gives up instead of binding its own."""
    variant = next(v for v in manifest.variants()
                   if v["name"] == "socket-file-outlives-close")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with server:
        server.bind(str(tmp_path / "lab.sock"))
        server.listen(1)
        before = os.lstat(tmp_path / "lab.sock").st_ino
        status, err, _ = run_alone([str(executable(variant))], tmp_path)
        assert status == 2 and "setup failed" in err, (status, err)
        assert os.lstat(tmp_path / "lab.sock").st_ino == before
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(str(tmp_path / "lab.sock"))


def test_a_peer_that_gives_up_ends_its_variant_at_once(tmp_path):
    """The forked server of connect-before-listen cannot bind (the name is
    taken): its parent, waiting for word from it, ends at once with the
    setup-failed status, not by its watchdog's alarm."""
    variant = next(v for v in manifest.variants()
                   if v["name"] == "connect-before-listen")
    (tmp_path / "lab.sock").write_text("the user's notes\n")
    status, err, seconds = run_alone([str(executable(variant))], tmp_path)
    assert status == 2, (status, err)
    assert "setup failed: bind" in err, err
    assert seconds < PROMPTLY


def test_a_parent_that_gives_up_ends_its_peers_at_once(tmp_path):
    """accept-interrupted's server fails to install its handler (an
    injected failure) while its forked client waits for it: the client
    ends at once too, with the setup-failed status, and holds nothing."""
    variant = next(v for v in manifest.variants()
                   if v["name"] == "accept-interrupted")
    status, err, seconds = run_alone(
        [str(executable(variant))], tmp_path,
        env={"LAB_FAULTS": "sigaction#1=EINVAL"})
    assert status == 2, (status, err)
    assert "setup failed: sigaction" in err, err
    assert "another process of this variant gave up" in err, err
    assert seconds < PROMPTLY
