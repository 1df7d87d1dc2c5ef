"""%lab and %%lab: a shell inside a lab's namespace, from an IPython shell."""

import pytest
from IPython.core.interactiveshell import InteractiveShell

from nethelpers import Lab, Topology
from nethelpers.magics import MagicError, parse


@pytest.fixture(scope="module")
def shell():
    ipython = InteractiveShell.instance()
    ipython.run_line_magic("load_ext", "nethelpers")
    return ipython


@pytest.fixture
def lab():
    topo = Topology("magic", underlay=None)
    topo.add_node("node1")
    topo.add_container("c1", node="node1")
    topo.add_container("c2", node="node1")
    with Lab(topo) as built:
        yield built


def test_a_line_runs_in_the_namespace_with_a_shell(shell, lab):
    result = shell.run_line_magic("lab", "c1 ip -br addr show | grep eth0 | wc -l")
    assert result.ok and result.stdout.strip() == "1"
    assert "172.17.0.2/16" in shell.run_line_magic("lab", "c1 ip -br addr show dev eth0").stdout
    assert shell.run_line_magic("lab", "c1 echo $((6 * 7)); false").returncode == 1  # sh: the last status


def test_a_cell_is_a_script(shell, lab):
    result = shell.run_cell_magic("lab", "node1", "ip -br link show docker0 | cut -d' ' -f1\nhostname_seen=yes\necho $hostname_seen\n")
    assert result.stdout.split() == ["docker0", "yes"]
    assert shell.run_cell_magic("lab", "c2", "ping -c 1 -W 2 172.17.0.2 >/dev/null && echo reached").stdout == "reached\n"


def test_the_lab_is_named_when_several_are_open(shell, lab):
    other = Topology("magic-other", underlay=None)
    other.add_namespace("a")
    with Lab(other):
        with pytest.raises(MagicError, match=r"2 labs are open \(magic, magic-other\).*%lab --lab magic c1"):
            shell.run_line_magic("lab", "c1 true")
        assert shell.run_line_magic("lab", "--lab magic-other a ip -br link").stdout.startswith("lo")
        with pytest.raises(MagicError, match="no open lab 'nope' in this kernel; open labs: magic, magic-other"):
            shell.run_line_magic("lab", "--lab nope a true")


def test_bad_lines_say_how_to_write_them(shell, lab):
    with pytest.raises(MagicError, match="no namespace 'c9' in lab 'magic'; its namespaces: .*c1"):
        shell.run_line_magic("lab", "c9 true")
    with pytest.raises(MagicError, match="no command to run in 'c1'"):
        shell.run_line_magic("lab", "c1")
    with pytest.raises(MagicError, match="no namespace given"):
        shell.run_line_magic("lab", "")
    with pytest.raises(MagicError, match="%%lab takes the namespace only"):
        shell.run_cell_magic("lab", "c1 ip a", "true")
    for timeout in ("0", "-1", "inf", "nan", "soon"):
        with pytest.raises(MagicError, match=f"--timeout '{timeout}' is not a positive number"):
            parse(f"--timeout {timeout} c1 true")


def test_no_lab_open(shell):
    with pytest.raises(MagicError, match="no lab is open in this kernel"):
        shell.run_line_magic("lab", "c1 true")


def test_parse_keeps_the_command_verbatim():
    assert parse("--lab=x --timeout 5 c1  ip -br a |  grep 'a  b'") == ("x", 5.0, "c1", "ip -br a |  grep 'a  b'")
    assert parse("n1", "echo hi\n") == (None, 60.0, "n1", "echo hi\n")
