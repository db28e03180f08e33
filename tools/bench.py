"""make bench: what the trace costs, measured.

Echoes a fixed amount of data (256 MiB) through the lesson 06 server
(solutions/06-close/server.c) with trace/bench_client.c, which streams and
reads at once, four times side by side:

    untraced build   the same server.c compiled without the trace
    trace off        the lab's build, LAB_TRACE=0 and no LAB_TRACE_FILE
    JSON trace only  LAB_TRACE=0, LAB_TRACE_FILE set (a file in /tmp)
    human trace      the lines on stderr, which goes to /dev/null

and prints, for each, the server's CPU time (user + system, from
wait4(2)), the throughput, the system calls per MiB (the server under
strace -c -f on a smaller run) and each figure's ratio to the untraced
build.  Each is the median of a few runs, the builds taking turns.  trace/TRACE.md ("What the
trace costs") shows the figures of one machine.

    bench.py [--mib N] [--runs N] [--strace-mib N]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

from labrun import BUILD, run_tool

SERVER = BUILD / "solutions" / "06-close" / "server"
UNTRACED = BUILD / "bench" / "server"
CLIENT = BUILD / "bench" / "client"

CONFIGS = [  # name, server, environment
    ("untraced build", UNTRACED, {}),
    ("trace off", SERVER, {"LAB_TRACE": "0"}),
    ("JSON trace only", SERVER, {"LAB_TRACE": "0", "LAB_TRACE_FILE": None}),
    ("human trace", SERVER, {}),
]


def environment(extra, workdir):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LAB_") and k != "NO_COLOR"}
    for key, value in extra.items():
        env[key] = value if value is not None else str(workdir / "trace.jsonl")
    return env


def one_run(server, extra, mib, under=()):
    """Runs the server and the client once: (server CPU s, wall s, JSON
    trace bytes and lines, server's stderr... is /dev/null)."""
    from pathlib import Path
    workdir = Path(tempfile.mkdtemp(prefix="lab-bench-", dir="/tmp"))
    try:
        env = environment(extra, workdir)
        proc = subprocess.Popen([*under, str(server), "-n", "1", "lab.sock"],
                                cwd=workdir, env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        said = proc.stdout.readline()  # "server: listening on lab.sock..."
        if b"listening" not in said:
            proc.kill()
            proc.wait()
            raise SystemExit(f"bench: the server did not start: {said!r}")
        began = time.monotonic()
        client = subprocess.run([str(CLIENT), "lab.sock", str(mib)],
                                cwd=workdir, capture_output=True,
                                timeout=600)
        wall = time.monotonic() - began
        proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if client.returncode != 0 or proc.returncode != 0:
            raise SystemExit(f"bench: a run failed: client "
                             f"{client.returncode} "
                             f"{client.stderr.decode(errors='replace')}, "
                             f"server {proc.returncode}")
        trace = workdir / "trace.jsonl"
        size = trace.stat().st_size if trace.exists() else 0
        lines = trace.read_bytes().count(b"\n") if size else 0
        return usage.ru_utime + usage.ru_stime, wall, size, lines
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def syscalls(server, extra, mib):
    """The server's system calls in all, under strace -c -f."""
    if shutil.which("strace") is None:
        return None
    with tempfile.NamedTemporaryFile(prefix="lab-bench-", dir="/tmp") as out:
        one_run(server, extra, mib,
                under=("strace", "-f", "-c", "-o", out.name))
        text = open(out.name, encoding="utf-8").read()
    total = re.search(r"^-+.*\n\s*100\.00\s+\S+\s+\S+\s+(\d+)", text, re.M)
    return int(total[1]) if total else None


def main(argv):
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--strace-mib", type=int, default=16)
    args = parser.parse_args(argv)
    for path in (SERVER, UNTRACED, CLIENT):
        if not path.exists():
            raise SystemExit(f"bench: {path} is not built (make bench "
                             f"builds it)")
    print(f"make bench: {args.mib} MiB echoed through "
          f"solutions/06-close/server, the median of {args.runs} runs each; "
          f"system calls counted on {args.strace_mib} MiB under strace -c.",
          flush=True)
    # The builds take turns, so that a machine busier at one moment than
    # at another weighs on each alike.
    runs = {name: [] for name, _, _ in CONFIGS}
    for _ in range(args.runs):
        for name, server, extra in CONFIGS:
            runs[name].append(one_run(server, extra, args.mib))
    rows = []
    for name, server, extra in CONFIGS:
        cpu = statistics.median(r[0] for r in runs[name])
        wall = statistics.median(r[1] for r in runs[name])
        calls = syscalls(server, extra, args.strace_mib)
        rows.append((name, cpu, args.mib / wall,
                     calls / args.strace_mib if calls else None,
                     runs[name][-1][2], runs[name][-1][3]))
    base = rows[0]
    print(f"\n{'':18}{'server CPU':>12}{'':>7}{'throughput':>13}{'':>7}"
          f"{'syscalls':>10}{'':>7}")
    print(f"{'':18}{'seconds':>12}{'ratio':>7}{'MiB/s':>13}{'ratio':>7}"
          f"{'per MiB':>10}{'ratio':>7}")
    for name, cpu, rate, per_mib, _, _ in rows:
        calls = f"{per_mib:10.1f}{per_mib / base[3]:7.2f}" \
            if per_mib and base[3] else f"{'-':>10}{'-':>7}"
        print(f"{name:<18}{cpu:12.3f}{cpu / base[1]:7.2f}{rate:13.1f}"
              f"{rate / base[2]:7.2f}{calls}")
    json_row = rows[2]
    print(f"\nThe JSON trace of one {args.mib} MiB run: {json_row[5]} lines, "
          f"{json_row[4]} bytes.")
    if rows[0][3] is None:
        print("(strace is not installed: no system call counts; "
              "apt-get install strace)")
    return 0


if __name__ == "__main__":
    run_tool(main)
