"""Benchmark: build and tear down one node with docker0 and N containers, three ways.

The topology, for each N (10, 200 and 1000 by default): one namespace ``node1`` holding the
bridge docker0 (172.17.0.1/16, MTU 1500, up) and N container namespaces c1..cN, each with lo
up, IPv6 off (``net.ipv6.conf.{all,default}.disable_ipv6=1``), a veth pair ``vethXXXXXXX``
(in node1, on docker0, up) <-> ``eth0`` (Docker's MAC 02:42 + the IPv4 bytes, 172.17.x.y/16,
up) and a default route via 172.17.0.1. All three methods build it with the same names, MACs
and addresses, taken from ``topo.plan()``:

1. nethelpers: ``Lab(topo)`` (plan, engine start, build) and ``lab.close()`` (teardown);
   apart, ``topo.resolve()`` (the plan), ``EngineClient()`` (engine start) and the build
   request alone, ``EngineClient().call("build", steps=...)`` with steps made as
   ``Lab.build`` makes them.
2. ``ip -batch``: as few ``ip`` processes as iproute2 allows, N + 3 (see
   :func:`ip_batch_commands`); teardown ``ip -all netns delete``.
3. one ``ip`` process per step: each line of ``topo.commands()`` run as its own process, the
   way tutorials and Mininet do it; teardown ``ip -all netns delete``.

How: wall-clock time (``time.perf_counter``) around each phase, the median of R runs, divided
by N. Methods 2 and 3 run in the sandbox the engine runs in (``sandbox_prefix()``: user, mount,
network and PID namespaces, plus a tmpfs on /run), so they never touch the host: this file
runs itself there with ``--inside``, reads the commands as JSON on stdin, and prints its
timings as JSON. Every build starts in a fresh sandbox (or engine) once the kernel has
finished freeing the namespaces of the run before, which it does asynchronously and which
would slow the next build; how long that took is printed, not counted. Each build is checked
(untimed) against what it should have made. At the end the host is checked: nothing in
``ip netns list``, ``ip -br link`` unchanged.

It asserts nothing about time (a timed assertion is flaky on a shared machine): it prints
the figures next to their targets, and exits 0.

    python bench/bench_build.py [--sizes 10,200,1000] [--repeat R] [--quick]
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from nethelpers import EngineError, Lab, Topology  # noqa: E402
from nethelpers.engine import NETNS_DIR, mount  # noqa: E402
from nethelpers.sandbox import EngineClient, sandbox_prefix  # noqa: E402

SIZES = (10, 200, 1000)
QUICK_SIZES = (10, 50)
TARGET_BATCH_N = 200  # build at most 1.0x ip -batch at this N
TARGET_BATCH_RATIO = 1.0
TARGET_TEARDOWN_MS = 0.2  # per container
BATCH, PER_STEP = "ip -batch", "ip per step"

# Waiting for the kernel to finish freeing namespaces: /proc/stat, in 0.1 s windows.
WINDOW = 0.1
QUIET_CPU = 0.2  # of one CPU in system time: "quiet" below that...
QUIET_WINDOWS = 3  # ...for this many windows in a row
QUIET_LIMIT = 10.0  # give up waiting after this many seconds


# --- the topology and what a correct build shows ------------------------------------------


def make_topology(n):
    """One node with Docker's default bridge and ``n`` containers c1..cN, no underlay."""
    topo = Topology(f"bench{n}", underlay=None)
    topo.add_node("node1")
    for i in range(1, n + 1):
        topo.add_container(f"c{i}", node="node1")
    return topo


def checks(resolved):
    """What a correct build shows: ``(namespace, argv, a word its output must contain)``."""
    containers = list(resolved.containers.values())
    last = containers[-1]
    ports = f"ip -o link show master {last.bridge} up | wc -l"
    return [
        (last.node, ["sh", "-c", ports], str(len(containers))),
        (last.name, ["ip", "-o", "link", "show", "eth0"], last.mac),
        (last.name, ["ip", "-o", "-4", "addr", "show", "eth0"], f"{last.address}/{last.prefixlen}"),
        (last.name, ["ip", "route", "show", "default"], last.gateway),
        (last.name, ["cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6"], "1"),
    ]


def check_outputs(method, expected, outputs):
    """Raise if a build did not make what the checks expect."""
    for (ns, argv, word), output in zip(expected, outputs):
        if word not in output.split():
            raise SystemExit(f"{method}: `{shlex.join(argv)}` in {ns} should show {word!r}, got: {output.strip()!r}")


# --- the baselines' commands --------------------------------------------------------------


def per_step_commands(topo):
    """Method 3: each line of ``topo.commands()`` as its own process.

    Returns ``[(part, argv, stdin)]``, ``part`` being the step's op (netns, veth...).
    """
    steps, lines = topo.plan(), topo.commands().splitlines()
    odd = [line for line in lines if not line.startswith("ip ")]
    if odd or len(lines) != len(steps):
        raise ValueError(f"not one one-line ip command per step: {(odd or lines)[0]!r}")
    return [(step.op, shlex.split(line), None) for step, line in zip(steps, lines)]


def ip_batch_commands(steps):
    """Method 2: the plan's commands in as few ``ip`` processes as iproute2 allows.

    * one ``ip -batch`` adds every namespace (``-n`` is not accepted inside a batch file, but
      ``netns add`` is, and ``ip`` returns to its own namespace after each);
    * one ``ip -all netns exec sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; ...'``
      sets the sysctls: one ``ip`` process that forks one shell per namespace, which writes
      /proc/sys with its builtin ``echo`` (what ``sysctl -w`` does). The cheapest honest way
      found; ms per namespace at N=200 here: this 2.2, ``sysctl -qw K1=1 K2=1`` in its place
      2.5-3.1, ``ip -batch`` with ``netns exec`` lines about the same, one ``ip netns exec NS
      sysctl`` process per namespace 4.7, and the writes folded into each container's own
      process (``ip netns exec cX sh -c 'echo 1 >...; exec ip -batch -'``) no cheaper than
      this plus ``ip -n cX -batch`` (6.5-6.9 against 5.6-6.2 for both together);
    * then one ``ip -n NS -batch -`` per namespace, in the order the plan first touches them:
      node1 (lo, docker0, its address, up, the N veth pairs, each made with its peer straight
      in its container), then each container (lo up, address, eth0 up, default route). A
      container's address and route can only be set from inside its namespace, so this is
      the floor: N + 3 ``ip`` processes in all.

    Returns ``[(part, argv, stdin text)]``, ``part`` naming one of those four phases.
    """
    namespaces = [s.ns for s in steps if s.op == "netns"]
    nodes = {s.ns for s in steps if s.op == "bridge"}
    sysctls, batches = {}, {}
    for step in steps:
        if step.op == "netns":
            continue
        if step.op == "sysctl":
            path = "/proc/sys/" + step.args["key"].replace(".", "/")
            sysctls.setdefault(step.ns, []).append(f"echo {step.args['value']} > {path}")
            continue
        command, prefix = step.command(), f"ip -n {step.ns} "
        if not command.startswith(prefix) or "\n" in command:
            raise ValueError(f"not a one-line `ip -n` command: {command!r}")
        batches.setdefault(step.ns, []).append(command[len(prefix):])
    settings = {tuple(values) for values in sysctls.values()}
    if len(settings) != 1 or set(sysctls) != set(namespaces):
        raise ValueError("ip -all netns exec needs the same sysctls in every namespace")
    commands = [("netns add, 1 ip", ["ip", "-batch", "-"], "".join(f"netns add {ns}\n" for ns in namespaces))]
    sysctl = ["ip", "-all", "netns", "exec", "sh", "-c", "; ".join(settings.pop())]
    commands.append(("sysctl, 1 ip + N sh", sysctl, None))
    commands += [
        ("node1 batch, 1 ip" if ns in nodes else "container batches, N ip",
         ["ip", "-n", ns, "-batch", "-"], "\n".join(lines) + "\n")
        for ns, lines in batches.items()
    ]
    return commands


def processes(commands, method):
    """How many processes a baseline starts, in words."""
    if method == BATCH:
        forked = len(commands[0][2].splitlines())  # one shell per namespace
        return f"{len(commands)} ip + {forked} sh"
    execs = sum(1 for _, argv, _ in commands if "sysctl" in argv)
    return f"{len(commands)} ip ({execs} exec sysctl)"


# --- inside the sandbox -------------------------------------------------------------------


def run(argv, stdin=None, capture=False):
    """Run one command; return its output, or raise with its error."""
    result = subprocess.run(
        argv, input=stdin, text=True, stderr=subprocess.PIPE,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`{shlex.join(argv)}` exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout if capture else None


def inside():
    """The ``--inside`` side: build, check and tear down one baseline here; print JSON."""
    job = json.load(sys.stdin)
    mount("tmpfs", "/run", "tmpfs", 0, "mode=755,size=16m")  # as the engine does: our own /run/netns
    os.makedirs(NETNS_DIR)
    durations = []
    for argv, stdin in job["commands"]:
        started = time.perf_counter()
        run(argv, stdin)
        durations.append(time.perf_counter() - started)
    outputs = [run(["ip", "netns", "exec", ns, *argv], capture=True) for ns, argv, _ in job["checks"]]
    started = time.perf_counter()
    run(["ip", "-all", "netns", "delete"])
    teardown = time.perf_counter() - started
    json.dump({"durations": durations, "teardown": teardown, "outputs": outputs}, sys.stdout)


# --- timing, outside ----------------------------------------------------------------------


def _system_ticks():
    with open("/proc/stat") as f:
        fields = f.readline().split()  # cpu user nice system idle iowait irq softirq ...
    return int(fields[3]) + int(fields[6]) + int(fields[7])


def wait_for_quiet():
    """Wait until the kernel has finished freeing namespaces; return roughly how long it took.

    Freeing runs in a kernel worker after the last reference goes, in system time: wait for
    QUIET_WINDOWS windows in a row below QUIET_CPU of one CPU, at most QUIET_LIMIT seconds.
    """
    hz = os.sysconf("SC_CLK_TCK")
    started = time.monotonic()
    before, then, quiet = _system_ticks(), started, []
    while time.monotonic() - started < QUIET_LIMIT:
        time.sleep(WINDOW)
        ticks, now = _system_ticks(), time.monotonic()
        if (ticks - before) / hz < QUIET_CPU * (now - then):
            quiet.append(then)
        else:
            quiet = []
        if len(quiet) == QUIET_WINDOWS:
            return quiet[0] - started
        before, then = ticks, now
    return QUIET_LIMIT


def time_nethelpers(topo, expected):
    """One run of method 1: seconds for each phase, and why the build went unchecked, if it did."""
    seconds, unchecked = {}, None
    started = time.perf_counter()
    resolved = topo.resolve()
    seconds["plan"] = time.perf_counter() - started

    wait_for_quiet()
    started = time.perf_counter()
    client = EngineClient()
    seconds["engine start"] = time.perf_counter() - started
    client.close()

    wait_for_quiet()
    started = time.perf_counter()
    lab = Lab(topo, settle=False)  # the wait for the kernel's lazy state reports is not build work
    seconds["build"] = time.perf_counter() - started
    try:
        check_outputs("nethelpers", expected, [lab.exec(ns, argv).stdout for ns, argv, _ in expected])
    except EngineError as e:  # seen above ~506 containers: the engine's exec select()s on fds > 1023
        unchecked = f"lab.exec failed: {e}"
    started = time.perf_counter()
    lab.close()
    seconds["teardown"] = time.perf_counter() - started
    seconds["freeing"] = wait_for_quiet()

    steps = [(s.op, s.ns, s.args, s.command()) for s in resolved.steps]  # as Lab.build makes them
    client = EngineClient()
    wait_for_quiet()
    started = time.perf_counter()
    timing = client.call("build", steps=steps)  # the engine's own time per op: {op: (seconds, count)}
    seconds["build request"] = time.perf_counter() - started
    seconds.update({f"part {op}": total for op, (total, _) in timing.items()})
    client.close()
    return seconds, unchecked


def time_baseline(method, commands, expected):
    """One run of method 2 or 3, in a sandbox of its own: seconds for each phase."""
    job = json.dumps({"commands": [(argv, stdin) for _, argv, stdin in commands], "checks": expected})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    wait_for_quiet()
    result = subprocess.run(
        [*sandbox_prefix(), sys.executable, os.path.abspath(__file__), "--inside"],
        input=job, capture_output=True, text=True, env=env,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"{method}: the sandboxed run failed: {last}")
    reply = json.loads(result.stdout)
    check_outputs(method, expected, reply["outputs"])
    seconds = {"build": sum(reply["durations"]), "teardown": reply["teardown"], "freeing": wait_for_quiet()}
    for (part, _, _), duration in zip(commands, reply["durations"]):
        seconds[f"part {part}"] = seconds.get(f"part {part}", 0.0) + duration
    return seconds


def measure(n, repeat):
    """Time the three methods on N containers, runs interleaved; return medians in seconds."""
    topo = make_topology(n)
    resolved = topo.resolve()
    expected = checks(resolved)
    commands = {BATCH: ip_batch_commands(resolved.steps), PER_STEP: per_step_commands(topo)}
    runs = {"nethelpers": [], BATCH: [], PER_STEP: []}
    unchecked = set()
    for i in range(repeat):
        print(f"N={n}: run {i + 1} of {repeat}", file=sys.stderr, flush=True)
        seconds, problem = time_nethelpers(topo, expected)
        runs["nethelpers"].append(seconds)
        unchecked.update(filter(None, [problem]))
        for method in (BATCH, PER_STEP):
            runs[method].append(time_baseline(method, commands[method], expected))
    medians = {
        method: {phase: statistics.median(run_[phase] for run_ in samples) for phase in samples[0]}
        for method, samples in runs.items()
    }
    medians["processes"] = {method: processes(commands[method], method) for method in (BATCH, PER_STEP)}
    medians["unchecked"] = sorted(unchecked)
    return medians


# --- the report ---------------------------------------------------------------------------


def fmt(ms):
    """A time in ms with three significant figures or so."""
    if ms >= 100:
        return f"{ms:.0f}"
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}"


def verdict(met):
    return "met" if met else "MISSED"


def print_size(n, repeat, m):
    """The table for one N: ms per container (and in all) for each method and phase."""
    nh, batch, step = m["nethelpers"], m[BATCH], m[PER_STEP]

    def cell(seconds):
        return f"{fmt(seconds * 1e3 / n):>8} {'(' + fmt(seconds * 1e3) + ' ms)':<13}"

    rows = [
        ("nethelpers  Lab(topo), lab.close()", nh["build"], nh["teardown"], "1 engine"),
        ("  of which  engine start", nh["engine start"], None, ""),
        ("  of which  plan, topo.resolve()", nh["plan"], None, ""),
        ("            build request alone", nh["build request"], None, ""),
        ("ip -batch", batch["build"], batch["teardown"], m["processes"][BATCH]),
        ("ip per step", step["build"], step["teardown"], m["processes"][PER_STEP]),
    ]
    print(f"\nN = {n} containers: ms per container (total), median of {repeat} run{'s' * (repeat > 1)}")
    print(f"{'':<36}{'build':>8}{'':14}{'teardown':>8}{'':14}processes")
    for label, build, teardown, count in rows:
        print(f"{label:<36}{cell(build)}{cell(teardown) if teardown is not None else '':<22}{count}".rstrip())

    for name, other in (("ip -batch", batch), ("ip per step", step)):
        ratio = nh["build"] / other["build"]
        line = (f"nethelpers / {name:<12} build {ratio:.2f}x (request alone "
                f"{nh['build request'] / other['build']:.2f}x), teardown {nh['teardown'] / other['teardown']:.2f}x")
        if name == "ip -batch" and n == TARGET_BATCH_N:
            met = verdict(ratio <= TARGET_BATCH_RATIO)
            line += f"   target: build <= {TARGET_BATCH_RATIO:.1f}x at N={TARGET_BATCH_N}: {met}"
        print(line)
    teardown = nh["teardown"] * 1e3 / n
    print(f"teardown target <= {TARGET_TEARDOWN_MS} ms per container: nethelpers {fmt(teardown)}, "
          f"{verdict(teardown <= TARGET_TEARDOWN_MS)}")
    print(f"kernel still freeing namespaces after teardown, roughly (not counted): nethelpers "
          f"{nh['freeing']:.1f} s, ip -batch {batch['freeing']:.1f} s, ip per step {step['freeing']:.1f} s")
    for problem in m["unchecked"]:
        print(f"WARNING: the nethelpers build was timed but not checked: {problem}")


def print_growth(results):
    """Time per container at each N, and the ratio largest N / smallest N (target: flat).

    Each build is split into its parts: the engine's own time per op for nethelpers, the
    time of each kind of command for the baselines.
    """
    sizes = sorted(results)
    if len(sizes) < 2:
        return
    small, large = sizes[0], sizes[-1]
    rows = [("build  nethelpers Lab(topo)", "nethelpers", "build"), ("         plan", "nethelpers", "plan"),
            ("         request alone", "nethelpers", "build request")]
    def parts(method):
        return [(f"           {key[5:]}", method, key) for key in results[small][method] if key.startswith("part ")]

    rows += parts("nethelpers")
    for method in (BATCH, PER_STEP):
        rows += [(f"       {method}", method, "build")] + parts(method)
    rows += [(f"{'teardown' if method == 'nethelpers' else '':<9}{method}", method, "teardown")
             for method in ("nethelpers", BATCH, PER_STEP)]
    print(f"\nms per container as N grows; target: flat, N={large} over N={small} = 1.0x")
    print(f"{'':<36}" + "".join(f"{'N=' + str(n):>9}" for n in sizes) + f"{f'{large}/{small}':>10}")
    for label, method, phase in rows:
        per_ctr = [results[n][method][phase] * 1e3 / n for n in sizes]
        growth = f"{per_ctr[-1] / per_ctr[0]:>9.2f}x" if per_ctr[0] else ""
        print(f"{label:<36}" + "".join(f"{fmt(v):>9}" for v in per_ctr) + growth)


def host_state():
    """What the host shows of namespaces and links, to compare before and after."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
    return netns, links


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="numbers of containers, comma-separated (default 10,200,1000)")
    parser.add_argument("--repeat", type=int, help="runs per size (default 3 up to N=200, else 1)")
    parser.add_argument("--quick", action="store_true", help="sizes 10,50, one run each")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside()

    sizes = QUICK_SIZES if args.quick else SIZES
    if args.sizes:
        sizes = [int(n) for n in args.sizes.split(",")]
    repeat = args.repeat or (1 if args.quick else None)
    netns_before, links_before = host_state()
    started = time.monotonic()
    print("Build and teardown of one node (docker0) with N containers; see bench/README.md")
    print(f"sandbox: {' '.join(sandbox_prefix())}")
    results = {}
    for n in sizes:
        runs = repeat or (3 if n <= 200 else 1)
        results[n] = measure(n, runs)
        print_size(n, runs, results[n])
    print_growth(results)

    netns_after, links_after = host_state()
    clean = netns_after == netns_before and links_after == links_before
    print(f"\nhost: ip netns list {'empty' if not netns_after.strip() else repr(netns_after.strip())}"
          f"{'' if netns_after == netns_before else ' (CHANGED)'}; ip -br link "
          f"{'unchanged' if links_after == links_before else 'CHANGED'} ({len(links_after.splitlines())} links); "
          f"{time.monotonic() - started:.0f} s in all")
    if not clean:
        sys.exit(1)


if __name__ == "__main__":
    main()
