"""Turns scripts/bench's results.jsonl (and criterion's estimates) into BENCHMARKS.md.

    python3 scripts/bench_report.py RESULTS.jsonl CRITERION_DIR > BENCHMARKS.md
"""
import glob
import json
import os
import subprocess
import sys

results = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
criterion_dir = sys.argv[2] if len(sys.argv) > 2 else "target/criterion"

SWITCHBOARD = ("chatroulette", "calling", "tringtring")
ALL = ("baseline", "matchbox", "chatroulette", "calling", "calling-signaling", "tringtring", "tringtring-node")
SOCKETIO = ("tringtring", "tringtring-node")
LABEL = {
    "baseline": "bare relay",
    "matchbox": "matchbox_server 0.15.0",
    "tringtring-node": "socket.io 4.8.4 (Node), Tring-Tring's job",
    "chatroulette": "switchboard, chatroulette",
    "calling": "switchboard, calling",
    "calling-signaling": "calling-signaling 0.1.4",
    "tringtring": "switchboard, tringtring (socket.io)",
}


def cmd(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


def verdict(ok, miss):
    return "met" if ok else f"missed by {miss:.0f} %"


def ratio_or_dash(value):
    return f"{value:.2f}" if value is not None else "—"


def ratio(r, other, key="messages_per_s"):
    """r's figure over other's, or None when either is missing."""
    return r[key] / other[key] if r and other else None


cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
print("# switchboard benchmarks\n")
print("Made by `scripts/bench`; run it to reproduce (about 15 minutes). It builds release binaries, pins the")
print("server under test to core 0 and the load generator (`switchboard-bench`) to core 1, and runs each")
print("comparison back to back on a fresh server. The generator writes each dialect's frames by hand and")
print("never parses a relayed frame, so that the server, not the generator, is measured.\n")
print("## The machine\n")
print(f"- CPU: {cpu_model}, {cmd('nproc')} cores; {cmd('uname', '-sr')}")
print(f"- {cmd('rustc', '--version')}; {cmd('target/release/switchboard', '--version')}; node {cmd('node', '--version')}")
print("- Baselines: the bare relay (`switchboard-bench baseline-relay`: tokio-tungstenite with its default")
print("  buffers, pairing the two connections that ask for one path and forwarding frames unparsed), the")
print("  ceiling for relay work here; matchbox_server 0.15.0 (Rust, axum; from crates.io, rooms by path and")
print("  relays by peer id, logging warnings only), the fastest signaling server we know of; the original")
print("  calling-signaling 0.1.4 server from npm (`scripts/calling-signaling.mjs`) for the calling dialect;")
print("  and for tringtring, a Node socket.io 4.8.4 server doing what Tring-Tring's own server (socket.io 2)")
print("  does, with the acks switchboard's dialect adds (`scripts/tringtring-node.mjs`), the server a")
print("  Tring-Tring user would run instead.\n")

print("## Relay throughput\n")
print("50 pairs in accepted calls (chatroulette: a call; calling: a room joined by invite; tringtring: a room");
print("of two); each caller keeps 8 ICE candidates in flight and the callee sends one back for each; a round")
print("trip is two relayed messages. In the calling dialect every `room_peer_to` carries a `tid`, as")
print("rtc-lib's do, so the server also answers each one.\n")
print("| message | server | messages/s | MB/s | × bare relay | × matchbox | × calling-signaling | × socket.io (Node) | round trip p50 / p99 / p999 (µs) | server CPU (s) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
relay_verdicts = []
for size in (200, 4000):
    base = results.get(f"relay-{size}-baseline")
    original = results.get(f"relay-{size}-calling-signaling")
    matchbox = results.get(f"relay-{size}-matchbox")
    node = results.get(f"relay-{size}-tringtring-node")
    for target in ALL:
        r = results.get(f"relay-{size}-{target}")
        if not r:
            continue
        to_base = r["messages_per_s"] / base["messages_per_s"] if base else None
        to_original = (
            r["messages_per_s"] / original["messages_per_s"]
            if original and target in ("calling", "calling-signaling")
            else None
        )
        to_node = ratio(r, node) if target in SOCKETIO else None
        p = r["round_trip_us"]
        print(
            f"| {size} B | {LABEL[target]} | {r['messages_per_s']:,.0f} | {r['mb_per_s']:.1f} | {ratio_or_dash(to_base)} "
            f"| {ratio_or_dash(ratio(r, matchbox))} | {ratio_or_dash(to_original)} | {ratio_or_dash(to_node)} "
            f"| {p['p50']} / {p['p99']} / {p['p999']} | {r['server_cpu_s']} |"
        )
        if target in SWITCHBOARD and to_base is not None:
            relay_verdicts.append(f"{target} {size} B {verdict(to_base >= 0.7, 100 * (0.7 - to_base) / 0.7)} ({to_base:.2f}×)")
print("\nTarget: ≥ 0.7× the bare relay: " + "; ".join(relay_verdicts) + ".\n")

print("## Call setup\n")
print("20 pairs run whole calls in a loop on fresh connections: connect, register, call and accept, a 2 KB")
print("offer, a 2 KB answer, 8 ICE candidates each way, hang up. Each dialect does it its own way: chatroulette")
print("CONNECT, REQUEST_CALL, ACCEPT_CALL, HANG_UP; calling hello, room_join, invite_send, invite_accept,")
print("room_leave; tringtring the Engine.IO and namespace handshakes, create-room, join twice, cut-the-call.")
print("Through the bare relay the same SDP and ICE messages are relayed, with one message each way standing in")
print("for the request and the accept and one for the hang-up; it has no registration or rooms, so its time")
print("is the floor for this exchange, not the same work. matchbox likewise: both peers join a room (its")
print("path), the same stand-ins relayed, and the caller leaving is the hang-up.\n")
print("| server | setups/s | setup p50 / p99 / p999 (µs) | p99 × bare relay | server CPU (s) |")
print("|---|---:|---|---:|---:|")
base = results.get("setup-baseline")
setup_verdicts = []
for target in ALL:
    r = results.get(f"setup-{target}")
    if not r:
        continue
    p = r["setup_us"]
    to_base = p["p99"] / base["setup_us"]["p99"] if base else None
    print(f"| {LABEL[target]} | {r['setups_per_s']:,.0f} | {p['p50']} / {p['p99']} / {p['p999']} | {ratio_or_dash(to_base)} | {r['server_cpu_s']} |")
    if target in SWITCHBOARD and to_base is not None:
        setup_verdicts.append(f"{target} {verdict(to_base <= 2, 100 * (to_base - 2) / 2)} ({to_base:.2f}×)")
print("\nTarget: setup p99 ≤ 2× the bare relay's: " + "; ".join(setup_verdicts) + ".\n")

print("## Idle sessions\n")
print("About 19,000 sessions (the limit of 20,000 open files per process caps each server) connect from")
print("127.0.0.2-5, register (chatroulette: CONNECT; calling: the server registers each connection and says")
print("hello; tringtring: create-room and join, a user waiting for the other side) and sit idle for 40 s, so")
print("switchboard's 30 s heartbeat runs once. Memory per session is (RSS with them - RSS before) / sessions.\n")
print("| server | sessions | dropped | RSS before → with them (MiB) | per session | idle CPU |")
print("|---|---:|---:|---|---:|---:|")
idle_verdicts = []
for target in ALL:
    r = results.get(f"idle-{target}")
    if not r:
        continue
    print(
        f"| {LABEL[target]} | {r['sessions']:,} | {r['dropped']} | {r['rss_before_kb']/1024:.1f} → {r['rss_after_kb']/1024:.1f} "
        f"| {r['bytes_per_session']/1024:.2f} KiB | {r['idle_cpu_percent']:.1f} % |"
    )
    if target in SWITCHBOARD:
        share = r["bytes_per_session"] / 4096
        idle_verdicts.append(f"{target} {verdict(share <= 1, 100 * (share - 1))} ({r['bytes_per_session']/1024:.2f} KiB)")
print("\nTarget: ≤ 4 KiB per idle session: " + "; ".join(idle_verdicts) + ".\n")

if any(name.startswith("idle-after-call-") for name in results):
    print("## Memory after calls\n")
    print("The idle sessions above, beside sessions that were in a call first: each pair relayed a 6 KB SDP")
    print("offer and answer, hung up (and in calling both left the room), then sat idle the same way. A large")
    print("message grows tungstenite's read buffer (to the frame) and write buffer (to the batch); the socket")
    print("gives both back after 1 s idle (`crates/server/src/websocket`), and jemalloc returns the freed pages.")
    print("socket.io's sessions run on engineioxide's own WebSocket, which this does not reach.\n")
    print("| server | never called | after a call | × never called |")
    print("|---|---:|---:|---:|")
    call_verdicts = []
    for target in SWITCHBOARD:
        never, after = results.get(f"idle-{target}"), results.get(f"idle-after-call-{target}")
        if not (never and after):
            continue
        growth = after["bytes_per_session"] / never["bytes_per_session"]
        print(f"| {LABEL[target]} | {never['bytes_per_session']/1024:.2f} KiB | {after['bytes_per_session']/1024:.2f} KiB | {growth:.2f} |")
        call_verdicts.append(f"{target} {verdict(growth <= 1.25, 100 * (growth - 1.25) / 1.25)} ({growth:.2f}×)")
    print("\nGoal: an idle session after a call within 25 % of one never called: " + "; ".join(call_verdicts) + ".\n")

if results.get("relay-200-matchbox") or results.get("relay-200-tringtring-node"):
    print("## socket.io, and the fastest peers\n")
    print("The goals for the socket.io path (tringtring, the path CloudKibo and Tring-Tring users take) and for")
    print("the WebSocket dialects beside matchbox, from the tables above. Benchmark goals, not tests.\n")

    def relay(target, size):
        return results.get(f"relay-{size}-{target}")

    def goal(what, value, target, at_least=True):
        if value is None:
            return f"- {what}: not measured"
        ok = value >= target if at_least else value <= target
        miss = 100 * (target - value) / target if at_least else 100 * (value - target) / target
        return f"- {what} {'≥' if at_least else '≤'} {target:g}: {verdict(ok, miss)} ({value:.2f})"

    lines = [
        goal("tringtring relay × bare relay, 4 KB", ratio(relay("tringtring", 4000), relay("baseline", 4000)), 0.8),
        goal("tringtring relay × bare relay, 200 B", ratio(relay("tringtring", 200), relay("baseline", 200)), 1.0),
    ]
    for size in (200, 4000):
        lines.append(
            goal(
                f"tringtring relay × the Node socket.io server, {size} B",
                ratio(relay("tringtring", size), relay("tringtring-node", size)),
                3,
            )
        )
    idle = results.get("idle-tringtring")
    lines.append(goal("idle socket.io session, KiB", idle and idle["bytes_per_session"] / 1024, 12, at_least=False))
    lines.append(goal("chatroulette relay × matchbox, 200 B", ratio(relay("chatroulette", 200), relay("matchbox", 200)), 1.1))
    lines.append(goal("calling relay × matchbox, 200 B", ratio(relay("calling", 200), relay("matchbox", 200)), 0.8))
    setup_tt, setup_base = results.get("setup-tringtring"), results.get("setup-baseline")
    setup_ratio = setup_tt["setup_us"]["p99"] / setup_base["setup_us"]["p99"] if setup_tt and setup_base else None
    lines.append(goal("tringtring setup p99 × bare relay's", setup_ratio, 1.3, at_least=False))
    print("\n".join(lines) + "\n")

if any(name.startswith("cluster-") for name in results):
    print("## Several nodes\n")
    print("chatroulette through a cluster of two nodes and a `redis-server` (README \"Several nodes\"): on one")
    print("node without Redis; on two nodes with both parties of each pair on node a (`same`: the cluster's")
    print("cost without crossing, names claimed in Redis); and with each callee on node b (`cross`: every ring,")
    print("answer, SDP, ICE candidate and hang-up crosses Redis pub/sub). On this 2-core machine the two nodes")
    print("and Redis share the server's core, with the generator on the other, so a cross-node message costs")
    print("both nodes' work and Redis's on one core: CPU per message is the honest figure. Relay: 50 pairs,")
    print("8 in flight, 200 B. Setup as above, with 20 pairs (the core saturated: latency is mostly queueing)")
    print("and with 2 pairs (latency of the hops themselves).\n")
    print("| mode | relay msgs/s | CPU µs per relayed msg | setups/s (20 pairs) | p50 / p99 (µs) | setups/s (2 pairs) | p50 / p99 (µs) |")
    print("|---|---:|---:|---:|---|---:|---|")
    label = {"one": "one node", "same": "two nodes, parties on one", "cross": "two nodes, parties on both"}
    for mode in ("one", "same", "cross"):
        relay, setup, setup2 = (results.get(f"cluster-{kind}-{mode}") for kind in ("relay", "setup", "setup2"))
        if not (relay and setup and setup2):
            continue
        per_msg = relay["server_cpu_s"] * 1e6 / (relay["messages_per_s"] * relay["seconds"])
        print(
            f"| {label[mode]} | {relay['messages_per_s']:,.0f} | {per_msg:.1f} | {setup['setups_per_s']:,.0f} "
            f"| {setup['setup_us']['p50']} / {setup['setup_us']['p99']} | {setup2['setups_per_s']:,.0f} "
            f"| {setup2['setup_us']['p50']} / {setup2['setup_us']['p99']} |"
        )
    one, cross = results.get("cluster-setup2-one"), results.get("cluster-setup2-cross")
    if one and cross:
        ratio = cross["setup_us"]["p99"] / one["setup_us"]["p99"]
        print(f"\nGoal: cross-node setup p99 ≤ 1.5× one node's (2 pairs): {verdict(ratio <= 1.5, 100 * (ratio - 1.5) / 1.5)} ({ratio:.2f}×).")
    one, cross = results.get("cluster-setup-one"), results.get("cluster-setup-cross")
    if one and cross:
        ratio = cross["setup_us"]["p99"] / one["setup_us"]["p99"]
        print(f"With 20 pairs on the shared core: {ratio:.2f}×.\n")

print("## The core and the codecs alone (criterion)\n")
print("`cargo bench -p switchboard-core -p switchboard-dialects`, pinned to core 0, mean time per iteration.\n")
print("| benchmark | time | throughput |")
print("|---|---:|---:|")
for estimates in sorted(glob.glob(os.path.join(criterion_dir, "*", "*", "new", "estimates.json"))):
    directory = os.path.dirname(estimates)
    info = json.load(open(os.path.join(directory, "benchmark.json")))
    ns = json.load(open(estimates))["mean"]["point_estimate"]
    throughput = info.get("throughput") or {}
    if "Elements" in throughput:
        rate = f"{throughput['Elements'] / ns * 1e3:.2f} M inputs/s"
    elif "Bytes" in throughput:
        rate = f"{throughput['Bytes'] / ns * 1e3:.0f} MB/s"
    else:
        rate = "—"
    print(f"| {info['full_id']} | {ns / 1e3:.2f} µs | {rate} |")
relay = os.path.join(criterion_dir, "core", "relay", "new", "estimates.json")
if os.path.exists(relay):
    rate = 1e3 / json.load(open(relay))["mean"]["point_estimate"]
    print(f"\nTarget: the core handles ≥ 1 M inputs/s on one core: {verdict(rate >= 1, 100 * (1 - rate))} ({rate:.2f} M/s relaying).\n")

print("## Where the time and the memory go\n")
print(open(os.path.join(os.path.dirname(__file__), "bench_notes.md")).read().strip())
