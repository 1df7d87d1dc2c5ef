"""Ladder diagrams of real captures: a matplotlib figure and Mermaid text."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from nethelpers import Lab
from nethelpers.capture import Capture
from nethelpers.journey import encapsulation
from nethelpers.ladder import COLOURS, escape, ladder, markdown, mermaid, mermaid_id

LABS = Path(__file__).resolve().parent.parent / "labs"


def ping_capture(lab_file, points, target, filter="arp or icmp"):
    """Build the lab, capture at ``points(lab)`` while c1 pings ``target`` once."""
    with Lab(LABS / lab_file) as lab:
        points = points(lab)
        cap = lab.capture(points, filter=filter)
        try:
            result = lab.exec("c1", f"ping -c 1 -W 2 {target}")
        finally:
            capture = cap.stop()
        assert result.ok, result
    return capture


def bridge_points(lab):
    veth = {c: "node1:" + lab.resolved.containers[c].veth for c in ("c1", "c2", "c3")}
    return ["c1:eth0", veth["c1"], "node1:docker0", veth["c2"], "c2:eth0", veth["c3"], "c3:eth0"]


@pytest.fixture(scope="module")
def bridged():
    """One ping c1 -> c2 on one-node, seen at its seven points (the lab is gone after)."""
    return ping_capture("one-node.yml", bridge_points, "172.17.0.3")


@pytest.fixture(scope="module")
def tunnelled():
    def points(lab):
        return ["c1:eth0", "node1:docker0", "node1:eth0", "node2:eth0", "node2:docker0", "c2:eth0"]

    return ping_capture("overlay.yml", points, "172.17.0.3", filter="arp or icmp or udp port 4789")


def arrows(fig):
    return [t for ax in fig.axes for t in ax.texts if isinstance(t, Annotation) and t.arrow_patch is not None]


def test_ladder_draws_one_column_per_point_and_one_arrow_per_hop(bridged, tmp_path):
    fig = bridged.ladder()
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    headers = [t.get_text() for t in ax.texts if t.get_text() in bridged.points]
    assert headers == bridged.points  # in the capture's order
    trips = bridged.journeys()
    hops = trips.hops()
    assert len(hops) == len(bridged) - len(trips) == 18  # every sighting but a journey's first has a hop
    assert fig.ladder_arrows == len(arrows(fig)) == len(hops)
    assert fig.ladder_hidden == 0 and len(fig.ladder_hops) == len(hops)
    colours = {a.arrow_patch.get_edgecolor()[:3] for a in arrows(fig)}
    assert len(colours) == 2  # ARP and ICMP
    labels = [t.get_text() for t in ax.texts if isinstance(t, Annotation) and t.arrow_patch is None]
    assert len(labels) == len(hops) and "ARP who-has 172.17.0.3" in labels
    assert all(len(line) <= 46 for label in labels for line in label.splitlines())
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[0] == "0.000 ms" and all(re.fullmatch(r"\d+\.\d{3} ms", t) for t in ticks)
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["ARP", "ICMP"]

    path = tmp_path / "ping.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"  # Jupyter shows it, pyplot imported or not
    small = ladder(bridged, points=["c1:eth0", "node1:docker0", "c2:eth0"])
    assert small.get_figwidth() < fig.get_figwidth()  # width grows with the points


def test_ladder_of_some_points_and_rows(bridged):
    points = ["c1:eth0", "node1:docker0", "c2:eth0", "c3:eth0"]
    fig = ladder(bridged, points=points, title="c1 pings c2")
    (ax,) = fig.axes
    assert ax.get_title() == "c1 pings c2"
    assert [t.get_text() for t in ax.texts if t.get_text() in points] == points
    # the request is flooded through docker0 (unseen ports left out): c1 > docker0 > c2, c3
    kept = [[p for p in j if p.point in points] for j in bridged.journeys()]
    assert fig.ladder_arrows == len(arrows(fig)) == sum(len(k) - 1 for k in kept if k) == 3 + 2 + 2 + 2
    assert sorted((h.before.point, h.after.point) for h in fig.ladder_hops[:3]) == [
        ("c1:eth0", "node1:docker0"), ("node1:docker0", "c2:eth0"), ("node1:docker0", "c3:eth0")]

    short = ladder(bridged, max_rows=5)
    assert short.ladder_rows == 5 and short.ladder_hidden > 0
    assert short.ladder_arrows == len(arrows(short)) < len(bridged.journeys().hops())
    assert any("not drawn (max_rows=5)" in t.get_text() for t in short.axes[0].texts)

    host = Figure()
    ax = host.add_subplot()
    assert ladder(bridged, ax=ax) is host and host.ladder_arrows == len(bridged.journeys().hops())


def test_ladder_colours_the_tunnel(tunnelled):
    fig = tunnelled.ladder()
    green = _rgb(COLOURS["VXLAN"])
    drawn = list(zip(arrows(fig), fig.ladder_hops))  # drawn in the order of ladder_hops
    assert len(drawn) == fig.ladder_arrows == len(tunnelled.journeys().hops())
    for arrow, hop in drawn:  # green where the packet is in (or leaves) a VXLAN packet
        tunnel = bool(encapsulation(hop.before.frame) or encapsulation(hop.after.frame))
        assert (arrow.arrow_patch.get_edgecolor()[:3] == green) == tunnel, hop
    # (in a new lab the underlay ARP and the bridges' IGMP reports may cross too)
    request = tunnelled.journeys().one("echo-request")
    assert [(h.before.point, h.after.point) for arrow, h in drawn
            if any(h.after is p for p in request) and arrow.arrow_patch.get_edgecolor()[:3] == green] == [
        ("node1:docker0", "node1:eth0"), ("node1:eth0", "node2:eth0"), ("node2:eth0", "node2:docker0")]
    assert "VXLAN" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("+VXLAN vni 42" in t.get_text() for t in fig.axes[0].texts)


def _rgb(colour):
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


def test_mermaid_has_a_participant_per_point_and_a_message_per_hop(bridged):
    text = mermaid(bridged)
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    participants = [line.split() for line in lines if line.strip().startswith("participant ")]
    assert [words[3] for words in participants] == bridged.points  # the point is the alias
    ids = [words[1] for words in participants]
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", i) for i in ids) and len(set(ids)) == len(ids)
    messages = [line for line in lines if "->>" in line]
    hops = bridged.journeys().hops()
    assert len(messages) == len(hops) == len(bridged) - len(bridged.journeys())
    for message, hop in zip(messages, hops):
        ends, label = message.strip().split(": ", 1)
        assert ends == f"{ids[bridged.points.index(hop.before.point)]}->>{ids[bridged.points.index(hop.after.point)]}"
        assert not re.search(r"[:;#]", re.sub(r"#\d+;", "", label)), label  # only entity codes
    assert "ARP 172.17.0.3 is-at 02#58;42#58;ac#58;11#58;00#58;03" in text  # a MAC's colons, escaped
    notes = [line for line in lines if line.strip().startswith("Note over")]
    assert len(notes) == 4 and notes[0].strip() == "Note over c1_eth0: journey 1 at 0.000 ms"
    fan = [m.split("->>")[1].split(":")[0] for m in messages[:6] if m.strip().startswith(ids[1] + "->>")]
    assert fan[0] == ids[2] and sorted(fan[1:]) == sorted([ids[3], ids[5]])  # the flood: from c1's port

    limited = mermaid(bridged, max_rows=5)
    assert sum("->>" in line for line in limited.splitlines()) == 5
    assert f"{len(hops) - 5} more hops not shown (max_rows=5)" in limited


def test_mermaid_names_and_escapes():
    assert mermaid_id("node1:veth6e2daa2") == "node1_veth6e2daa2"
    assert mermaid_id("end-1:eth0") == "p_end_1_eth0"  # 'end' would close a block
    assert mermaid_id("a_b:c", taken={"a_b_c"}) == "a_b_c_2"
    assert escape("a:b;c#d") == "a#58;b#59;c#35;d"
    assert escape("c1:eth0", keep=":") == "c1:eth0"
    shown = markdown("sequenceDiagram\n    A->>B: hi\n")
    body = getattr(shown, "data", shown)
    assert body == "```mermaid\nsequenceDiagram\n    A->>B: hi\n```\n"


def test_ladder_needs_no_display_and_leaves_the_backend_alone(bridged, tmp_path):
    """A saved capture drawn in a fresh process: no pyplot, no backend chosen."""
    saved = bridged.to_pcap(str(tmp_path / "ping.pcapng"))
    hops = len(bridged.journeys().hops())
    assert len(Capture.from_pcap(saved).journeys().hops()) == hops  # replay keeps the journeys
    script = (
        "import sys; from nethelpers.capture import Capture\n"
        f"fig = Capture.from_pcap({str(saved)!r}).ladder()\n"
        f"fig.savefig({str(tmp_path / 'replay.png')!r})\n"
        "print(fig.ladder_arrows, 'matplotlib.pyplot' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "MPLBACKEND": "", "DISPLAY": ""}
    out = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(hops), "False"]
    assert (tmp_path / "replay.png").stat().st_size > 10_000


def _retimed(capture, scale):
    """The same capture as if the kernel had stamped every sighting separately, in the
    order it happened: ties broken in story order, no other order changed."""
    from nethelpers.capture import Packet
    from nethelpers.journey import story

    t0 = capture[0].time  # relative times: a double holds an epoch time only to 0.24 us
    times = sorted({p.time - t0 for p in capture})
    gap = min((b - a for a, b in zip(times, times[1:])), default=1.0)
    step = gap * scale / (len(capture) + 1)
    rank = {id(j.packets[i]): n for n, (j, i) in enumerate(story(capture.journeys()))}
    return Capture([Packet(p.point, p.time - t0 + step * rank[id(p)], p.direction, p.pkttype, p.raw) for p in capture],
                   capture.points)


def _picture(capture):
    fig = ladder(capture, times=False)  # with times=False: no time shows
    rows = [(h.before.point, h.after.point) for h in fig.ladder_hops]
    return fig.get_size_inches().tolist(), fig.ladder_rows, rows, mermaid(capture, times=False)


@pytest.mark.parametrize("which", ["bridged", "tunnelled"])
@settings(max_examples=15, deadline=None, derandomize=True)
@given(scale=st.floats(min_value=1e-6, max_value=0.9))
def test_the_picture_depends_on_what_happened_not_on_when(which, scale, request):
    """A frame stamped once (a port and its bridge share a time) or at each tap draws the same."""
    capture = request.getfixturevalue(which)
    retimed = _retimed(capture, scale)
    assert len({p.time for p in retimed}) == len(retimed)  # no two sightings share a time now
    assert _picture(retimed) == _picture(capture)


def test_a_port_and_its_bridge_share_a_row_from_the_journey(bridged):
    """Ports and bridge seeing one receive share a row; nothing else does."""
    fig = ladder(bridged)
    trips = bridged.journeys()
    shared = len(bridged) - fig.ladder_rows
    receives = sum(1 for j in trips for i, p in enumerate(j.parents)
                   if p is not None and j.packets[p].namespace == j.packets[i].namespace
                   and j.packets[p].direction == j.packets[i].direction == "in")
    assert shared == receives == len(trips)  # each journey enters docker0 once, through a port
