"""A shell where a learner expects one: ``shell=True`` runs ``sh -c`` in the namespace; a string
with shell syntax and no shell is refused with a pointer to it; bad arguments are refused before
the engine is asked."""

import pytest

from nethelpers import Lab, Topology
from nethelpers.errors import NetHelpersError, ShellSyntaxError, UsageError
from nethelpers.lab import shell_syntax


def one_ns(name):
    topo = Topology(name, underlay=None)
    topo.add_namespace("ns1")
    return topo


@pytest.fixture(scope="module")
def lab():
    with Lab(one_ns("shell")) as lab:
        yield lab


def test_shell_true_runs_sh_in_the_namespace(lab):
    result = lab.exec("ns1", "ip -br link | grep -c '^lo '", shell=True)
    assert result.ok and result.stdout.strip() == "1"
    assert lab.exec("ns1", "echo $((6 * 7)) > /dev/null && echo ok", shell=True).stdout == "ok\n"


def test_spawn_with_a_shell(lab):
    fifo = lab.exec("ns1", "mktemp -u", check=True).stdout.strip()
    lab.exec("ns1", ["mkfifo", fifo], check=True)
    try:
        with lab.spawn("ns1", f"echo started; echo ready > {fifo}; sleep 30", shell=True) as process:
            assert lab.exec("ns1", ["cat", fifo], timeout=30).stdout == "ready\n"  # the shell got this far
            assert process.poll() is None
        assert "started" in process.output()
    finally:
        lab.exec("ns1", ["rm", "-f", fifo])


@pytest.mark.parametrize("command, syntax", [
    ("ip -br a | grep eth0", "|"), ("true; false", ";"), ("true && false", "&"), ("echo x > /tmp/f", ">"),
    ("cat < /etc/hostname", "<"), ("echo $(id)", "$("), ("echo `id`", "`"), ("ls /proc/*", "*"),
    ("ls /proc/?", "?"), ("echo $HOME", "$H..."), ('echo "$(id)"', "$("), ("echo ${HOME}", "${"),
])
def test_shell_syntax_without_a_shell_points_to_shell_true(command, syntax):
    assert shell_syntax(command) == syntax
    lab = Lab(one_ns("noshell"), build=False)
    for call in (lab.exec, lab.spawn):
        with pytest.raises(ShellSyntaxError, match=r"holds shell syntax .* pass shell=True"):
            call("ns1", command)


@pytest.mark.parametrize("command", ["ping -c 1 '1.2.3.4'", "echo 'a | b; c > d $(e) *'", "nft 'add table ip x'",
                                     "tcpdump -n icmp", 'echo "a b"', r"echo a\;b", "ip -j -d link show"])
def test_plain_commands_have_no_shell_syntax(command):
    assert shell_syntax(command) is None


@pytest.mark.parametrize("call, match", [
    (lambda lab: lab.exec("ns1", ""), r"exec: the command is empty"),
    (lambda lab: lab.exec("ns1", "   "), r"exec: the command is empty"),
    (lambda lab: lab.exec("ns1", []), r"exec: the command is empty"),
    (lambda lab: lab.spawn("ns1", ""), r"spawn: the command is empty"),
    (lambda lab: lab.spawn("ns1", []), r"spawn: the command is empty"),
    (lambda lab: lab.exec("ns1", "true", timeout=None), r"timeout must be a finite number of seconds above 0.* use spawn\(\)"),
    (lambda lab: lab.exec("ns1", "true", timeout=-1), r"timeout must be a finite number of seconds above 0"),
    (lambda lab: lab.exec("ns1", "true", timeout="5"), r"timeout must be a finite number of seconds above 0"),
    (lambda lab: lab.exec("ns1", None), r"the command must be a string or a list of words, got NoneType"),
    (lambda lab: lab.exec("ns1", ["ip", None]), r"every word of the command must be a string"),
    (lambda lab: lab.exec("ns1", ["echo", "a\0b"]), r"NUL character"),
    (lambda lab: lab.exec("ns1", ["ip", "a"], shell=True), r"exec\(shell=True\): give the command line as a"),
    (lambda lab: lab.exec("ns1", "", shell=True), r"give the command line as a non-empty string"),
    (lambda lab: lab.exec("ns1", "echo 'open"), r"cannot split .* close the quote"),
    (lambda lab: lab.exec(None, "true"), r"the namespace must be a name \(a str\), got NoneType"),
    (lambda lab: lab.exec("ns1", "true", env={"A": 1}), r"env must be a dict of str to str"),
    (lambda lab: lab.exec("ns1", "cat", input=5), r"input must be str, bytes or None"),
])
def test_bad_arguments_are_refused_before_the_engine(call, match):
    lab = Lab(one_ns("badargs"), build=False)
    with pytest.raises(NetHelpersError, match=match) as e:
        call(lab)
    assert isinstance(e.value, (UsageError, ShellSyntaxError))
