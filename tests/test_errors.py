"""The deliberate errors: each variant shows the outcome lessons/errors.json
declares for it, on this kernel, and leaves nothing behind.

One test per variant, named after it (test_bind_existing_path for
lessons/02-bind/errors/bind-existing-path.c); the comparison is the one
`make errors` makes (labrun.run_variant). A variant that needs what the kernel
refuses here (a user namespace, say) is skipped, with the kernel's answer
as the reason; nowhere else is a variant skipped.
"""
import re

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
