"""Simplified Chinese for the words nethelpers shows: figures, widgets, tables, exercise messages.

English text -> its translation, ``{names}`` kept as they are (:func:`nethelpers.i18n.tr`).
A dictionary reviewed with the code, not a compiled gettext catalog: these are a hundred short
texts that change with the code that shows them, the package needs no build step to carry
them, and ``tests/test_i18n.py`` checks that every text the code passes to ``tr`` is here with
the same ``{names}``. The terms are the glossary's (``notebooks/glossary.md``).
"""

MESSAGES = {
    # exercise.py
    "Write your prediction in the cell above, run it, then run this cell.":
        "在上面的单元格里写下你的预测并运行它，然后运行这个单元格。",
    "**Correct** ({question}): {observed}.": "**正确**（{question}）：{observed}。",
    "**Not yet** ({question}): {difference}.": "**还不对**（{question}）：{difference}。",
    " Hint: {hint}": " 提示：{hint}",
    " Change your prediction, run its cell again, then this one.": " 修改你的预测，重新运行它所在的单元格，再运行这个单元格。",
    "you predicted {values}, which did not happen": "你预测了 {values}，但它没有发生",
    "{values} happened, which you did not predict": "{values} 发生了，但你没有预测到",
    "you predicted {prediction}; what happened: {observed}": "你预测的是 {prediction}；实际发生的是 {observed}",
    "; ": "；",
    # ladder.py
    "time since the first packet (rank order, not to scale)": "自第一个数据包起的时间（按先后排序，不按比例）",
    "{n} packets at {m} points": "{n} 个数据包，{m} 个捕获点",
    "sent (out)": "发出（out）",
    "received (in)": "收到（in）",
    "... {hidden} more sightings not drawn (max_rows={max_rows})": "……另有 {hidden} 次捕获未画出（max_rows={max_rows}）",
    # draw.py
    "a packet was seen here": "在此处捕获到数据包",
    "captured, nothing seen": "抓包了，但什么也没看到",
    "the way it went": "数据包走过的路",
    "(only lo)": "（只有 lo）",
    "VXLAN tunnel\nVNI {vni}": "VXLAN 隧道\nVNI {vni}",
    "routed": "路由转发",
    "lab {name!r}, as the kernel holds it": "实验环境 {name!r}，内核中的实际状态",
    "the lab, as the kernel holds it": "实验环境，内核中的实际状态",
    # hooks.py
    "routing decision: to this namespace (down) or onwards (right)": "路由决策：交给本命名空间（向下）或继续转发（向右）",
    "{n} packet": "{n} 个数据包",
    "{n} packets": "{n} 个数据包",
    "local processes": "本地进程",
    "netfilter hooks passed by: {match}": "经过的 netfilter 钩子：{match}",
    "the lab's rules the packets met": "数据包命中的实验环境规则",
    # widgets.py
    "source": "源",
    "destination": "目的地",
    "an address, or a namespace": "一个地址，或一个命名空间",
    "protocol": "协议",
    "port": "端口",
    "server at the destination (UDP/TCP)": "在目的地启动服务端（UDP/TCP）",
    "FDB/neighbour/conntrack changes": "FDB/邻居表/连接跟踪的变化",
    "ladder and topology figures": "时序图和拓扑图",
    "filter": "过滤器",
    "Run": "运行",
    "capture points": "捕获点",
    "namespace": "命名空间",
    "Refresh": "刷新",
    "{name} (container)": "{name}（容器）",
    "{name} (node)": "{name}（节点）",
    "links": "网络接口",
    "addresses": "地址",
    "routes": "路由",
    "neighbours": "邻居表",
    "bridge": "网桥",
    "nftables": "nftables",
    "conntrack": "连接跟踪",
    "sysctls": "sysctl",
    # figures.py: the write-up's five figures
    "docker0: the bridge Docker adds to a node. Containers c1 and c2 plug into it through veth pairs "
    "(eth0 inside, vethXXXXXXX on docker0)":
        "docker0：Docker 在节点上添加的网桥。容器 c1 和 c2 通过 veth 对接入它（容器内是 eth0，docker0 上是 vethXXXXXXX）",
    "Container to container: c1 pings c2 (172.17.0.3). The echo request, captured at every interface, goes "
    "down c1's veth pair, across docker0 and up c2's: switched, not routed (c3, node1's eth0 and the LAN see "
    "nothing)":
        "容器到容器：c1 ping c2（172.17.0.3）。在每个网络接口上抓包：回显请求沿 c1 的 veth 对下来，穿过 docker0，"
        "再沿 c2 的 veth 对上去：是交换，不是路由（c3、node1 的 eth0 和局域网什么也看不到）",
    "Container to another node: c1 pings node2 (10.168.0.3). c1's default route sends the echo request to "
    "docker0; node1 routes it out of eth0 and masquerades it, so node2 sees node1's address":
        "容器到另一个节点：c1 ping node2（10.168.0.3）。c1 的默认路由把回显请求送到 docker0；node1 把它从 eth0 "
        "路由出去并做地址伪装（MASQUERADE），所以 node2 看到的是 node1 的地址",
    "The node to its container: node1 pings c1 (172.17.0.2). Its route to 172.17.0.0/16 leads out of "
    "docker0, which switches the echo request to c1's port":
        "节点到它的容器：node1 ping c1（172.17.0.2）。它到 172.17.0.0/16 的路由从 docker0 出去，"
        "docker0 再把回显请求交换到 c1 的端口",
    "Containers on two nodes: c1 (node1) pings c2 (node2) over a VXLAN overlay. docker0 switches the echo "
    "request to vxlan0, which wraps it in UDP 4789 through eth0 and the LAN; node2's vxlan0 unwraps it onto "
    "its docker0":
        "两个节点上的容器：c1（node1）经 VXLAN 覆盖网络 ping c2（node2）。docker0 把回显请求交换给 vxlan0，"
        "vxlan0 把它封装进 UDP 4789，经 eth0 和局域网发出；node2 的 vxlan0 解封装后把它交给自己的 docker0",
    # magics.py: what a learner meets first
    "no lab is open in this kernel: build one first (lab = Lab(topo))":
        "这个内核里还没有打开的实验环境：先构建一个（lab = Lab(topo)）",
}

# Table column headers, shown translated (tables keep their English column names as keys).
COLUMNS = {
    "journey": "旅程", "point": "捕获点", "dir": "方向", "from": "来自", "packet": "数据包", "change": "变化",
    "namespace": "命名空间", "table": "表", "chain": "链", "rule": "规则", "packets": "数据包数",
    "bytes": "字节数", "check": "检查项", "result": "结果", "detail": "详情", "what to do": "怎么办",
    "state": "状态", "kind": "类型", "port": "端口", "key": "键", "value": "值", "what": "项目",
    "same": "相同", "hook": "钩子", "the lab's chains there": "实验环境在此处的链", "real engine": "真实引擎", "hand-built lab": "手工搭建的实验环境",
}
