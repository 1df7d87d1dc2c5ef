"""The engine's rtnetlink writer on the real kernel, in a throw-away namespace of its own."""

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FALLBACK = """
    import subprocess, sys
    sys.path.insert(0, sys.argv[1])
    # Where ipip/sit/gre are loaded, a new namespace starts with tunl0, sit0...: links we did not make.
    subprocess.run(["ip", "link", "add", "pre0", "type", "veth", "peer", "name", "pre1"], check=True)
    from nethelpers.engine.netlink import Rtnl
    rtnl = Rtnl()
    rtnl.bridge("br0", "02:42:00:00:00:01", 1500)
    rtnl.veth("v0", "v1", rtnl, None, master="br0", up=True)
    rtnl.link_up("br0")
    rtnl.addr("br0", "10.0.0.1/24")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    print(" ".join(sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines())))
"""


def test_the_build_works_where_new_namespaces_hold_more_than_lo():
    run = subprocess.run(["unshare", "--user", "--map-root-user", "--net", sys.executable, "-I", "-S", "-c",
                          textwrap.dedent(FALLBACK), REPO],
                         capture_output=True, text=True, timeout=60,
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["br0", "lo", "pre0", "pre1", "v0", "v1"]
