"""The Jupyter UIs, driven without a browser: what a Run or a namespace pick stores and shows."""

from pathlib import Path

import pytest

from nethelpers import Lab
from nethelpers.widgets import LabInspector, PacketExplorer

LABS = Path(__file__).resolve().parent.parent / "labs"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def lab(one_node):
    return one_node


def summaries(capture, point):
    return [p.summary().split(" id ")[0] for p in capture.at(point)]


def html_outputs(widget):
    return [o["data"]["text/html"] for o in widget.outputs if o["output_type"] == "display_data"
            and "text/html" in o["data"]]


def test_explorer_defaults_follow_the_path(lab):
    explorer = PacketExplorer(lab)
    assert explorer.source.value == "c1"
    assert explorer.destination_address() == ("172.17.0.3", "c2")
    node1 = {f"node1:{name}" for name in ("eth0", "docker0", lab.veth("c1"), lab.veth("c2"), lab.veth("c3"))}
    assert set(explorer.selected_points()) == {"c1:eth0", "c2:eth0"} | node1
    assert explorer.filter.value == "arp or icmp or udp port 4789 or udp port 8472"
    explorer.destination.value = "c3"  # a namespace's name stands for its address
    assert explorer.destination_address() == ("172.17.0.4", "c3")
    assert set(explorer.selected_points()) == {"c1:eth0", "c3:eth0"} | node1
    explorer.protocol.value = "tcp"
    assert explorer.filter.value == "arp or icmp or tcp port 8080 or udp port 4789 or udp port 8472"
    explorer.destination.value = "not-an-address"
    with pytest.raises(ValueError, match="'not-an-address' is neither an IPv4 address nor a namespace"):
        explorer.run()
    with pytest.raises(ValueError, match="capture point 'c9:eth0' is not an interface of the lab"):
        explorer.run(destination="c2", points=["c9:eth0"])


def test_explorer_run_pings_and_keeps_the_capture(lab):
    explorer = PacketExplorer(lab)
    capture = explorer.run(source="c1", destination="172.17.0.3", protocol="icmp")
    assert capture is explorer.capture
    at_c2 = [p for p in capture.at("c2:eth0") if p.summary().startswith("ICMP echo-request")]
    assert [(p.summary().split(" id ")[0], p.direction) for p in at_c2] == [
        ("ICMP echo-request 172.17.0.2 > 172.17.0.3", "in")]
    assert capture.at("c3:eth0") == []  # not a capture point by default
    # the points go along the path, so that the ladder reads from the source to the destination
    v1, v2, v3 = (lab.veth(c) for c in ("c1", "c2", "c3"))
    assert capture.points == ["c1:eth0", f"node1:{v1}", "node1:docker0", f"node1:{v2}", f"node1:{v3}",
                              "node1:eth0", "c2:eth0"]
    assert explorer.result.ok and explorer.command == "ping -c 1 -W 2 172.17.0.3"
    outputs = explorer.output.outputs
    assert outputs[0]["output_type"] == "stream"
    assert outputs[0]["text"].startswith("$ ping -c 1 -W 2 172.17.0.3    # in c1\n")
    assert "1 received" in outputs[0]["text"]
    tables = html_outputs(explorer.output)
    assert "ICMP echo-request 172.17.0.2 &gt; 172.17.0.3" in tables[0]  # the capture table
    assert "kernel table changes" in tables[1] and lab.veth("c1") in tables[1]
    assert explorer.changes.one(namespace="c1", table="neighbours")["mac"] == "02:42:ac:11:00:03"
    assert explorer.status.value == f"{len(capture)} packets at {len(explorer.selected_points())} points"


def test_points_follow_the_path_across_an_overlay():
    with Lab(LABS / "overlay.yml") as overlay:
        explorer = PacketExplorer(overlay)
        assert explorer.destination_address() == ("172.17.0.3", "c2")
        v1, v2 = overlay.veth("c1"), overlay.veth("c2")
        assert explorer.along_the_path(explorer.selected_points()) == [
            "c1:eth0", f"node1:{v1}", "node1:docker0", "node1:vxlan0", "node1:eth0",
            "node2:eth0", "node2:vxlan0", "node2:docker0", f"node2:{v2}", "c2:eth0"]
        # unticked points too: the underlay switch sits between the nodes
        assert explorer.along_the_path(list(explorer.points))[5:8] == ["lan:node1", "lan:br0", "lan:node2"]


def test_explorer_protocols(lab):
    explorer = PacketExplorer(lab)
    explorer.show_figures.value = False
    assert explorer.run(destination="c2", protocol="icmp").at("c2:eth0")  # c1 now knows c2's MAC
    # ARP only, at c3 alone: the request is flooded to c3, the reply is not (arping is not
    # installed here: c1's entry is flushed, then one ping makes c1 ask again)
    capture = explorer.run(protocol="arp", points=["c3:eth0"])
    assert summaries(capture, "c3:eth0") == ["ARP who-has 172.17.0.3 tell 172.17.0.2"]
    # UDP to a server started in c2 by the explorer
    explorer.points["c3:eth0"].value = False
    explorer.points["c2:eth0"].value = True
    explorer.protocol.value = "udp"
    explorer.button.click()  # as the Run button does
    assert explorer.status.value != "failed", explorer.output.outputs
    assert [s.split(":")[0] for s in summaries(explorer.capture, "c2:eth0")] == ["UDP 172.17.0.2"]
    assert "received b'nethelpers' from 172.17.0.2:" in explorer.server_output
    # TCP: the handshake reaches c2
    capture = explorer.run(protocol="tcp")
    assert "connected 172.17.0.2:" in explorer.result.stdout
    flags = [s.split("[")[1].split("]")[0] for s in summaries(capture, "c2:eth0")]
    assert flags[:3] == ["S", "SA", "A"]
    assert "accepted 172.17.0.2:" in explorer.server_output
    assert explorer.figures == {} and all("image/png" not in o.get("data", {}) for o in explorer.output.outputs)


def test_explorer_shows_the_ladder(lab):
    explorer = PacketExplorer(lab)
    explorer.run(destination="c2", protocol="icmp")
    assert "ladder" in explorer.figures
    assert any("image/png" in o.get("data", {}) and o["data"]["text/plain"] == "<ladder figure>"
               for o in explorer.output.outputs), explorer.output.outputs


def test_explorer_shows_the_topology(lab):
    explorer = PacketExplorer(lab)
    explorer.run(destination="c2", protocol="icmp")
    assert "topology" in explorer.figures
    assert any("image/png" in o.get("data", {}) and o["data"]["text/plain"] == "<topology figure>"
               for o in explorer.output.outputs), explorer.output.outputs


def test_inspector_follows_the_dropdown_and_refresh(lab):
    inspector = LabInspector(lab)
    assert inspector.dropdown.value == "c1"
    assert "docker0" not in inspector.html and "bridge" not in inspector.views
    assert "172.17.0.2/16" in inspector.views["addresses"].value
    inspector.dropdown.value = "node1"  # as if picked in the UI
    assert "docker0" in inspector.views["links"].value
    assert list(inspector.tabs.titles) == list(inspector.views) == [
        "links", "addresses", "routes", "neighbours", "bridge", "nftables", "conntrack", "sysctls"]
    assert list(inspector.tabs.children) == list(inspector.views.values())
    assert lab.veth("c1") in inspector.views["bridge"].value
    assert "02:42:ac:11:00:02" not in inspector.views["bridge"].value  # nothing learned yet
    assert lab.exec("c1", "ping -c 1 -W 2 172.17.0.3").ok
    inspector.tabs.selected_index = 4
    inspector.refresh_button.click()
    assert "02:42:ac:11:00:02" in inspector.views["bridge"].value  # the FDB learned c1's MAC
    assert inspector.tabs.titles[inspector.tabs.selected_index] == "bridge"  # the same tab stays open


def test_objects_display_as_their_widget(lab):
    for ui in (PacketExplorer(lab), LabInspector(lab)):
        bundle = ui._repr_mimebundle_()
        assert bundle[WIDGET_VIEW]["model_id"] == ui.widget.model_id
        assert callable(ui._ipython_display_)
