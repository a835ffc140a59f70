"""Turns scripts/bench's results.jsonl into BENCHMARKS.md."""
import json
import platform
import subprocess
import sys

results = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}


def cmd(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
print("# switchboard benchmarks\n")
print("Made by `scripts/bench` (run it to reproduce: it builds release binaries, pins the server")
print("to core 0 and the load generator to core 1, and runs each comparison back to back).\n")
print("## The machine\n")
print(f"- CPU: {cpu_model}, {cmd('nproc')} cores; {cmd('uname', '-sr')}")
print(f"- {cmd('rustc', '--version')}; {cmd('target/release/switchboard', '--version')}")
print("\n## Relay throughput\n")
print("50 caller/callee pairs in accepted calls; each caller keeps 8 messages in flight and the callee")
print("echoes each one; a round trip is two relayed messages. The bare relay pairs connections and")
print("forwards frames without parsing them: the ceiling for this work on this machine.\n")
print("| message | server | messages/s | MB/s | ratio to bare relay | round trip p50 / p99 / p999 (µs) | server CPU (s) |")
print("|---|---|---:|---:|---:|---|---:|")
for size in (200, 4000):
    base = results.get(f"relay-{size}-baseline")
    for name in (f"relay-{size}-baseline", f"relay-{size}-switchboard"):
        r = results.get(name)
        if not r:
            continue
        ratio = r["messages_per_s"] / base["messages_per_s"] if base else float("nan")
        p = r["round_trip_us"]
        print(f"| {size} B | {r['target']} | {r['messages_per_s']:,.0f} | {r['mb_per_s']:.1f} | {ratio:.2f} | {p['p50']} / {p['p99']} / {p['p999']} | {r['server_cpu_s']} |")
print("\nTarget: ≥ 0.7× the bare relay.\n")
print("## Call setup\n")
print("20 pairs run whole setups in a loop on fresh connections: connect, register (switchboard), request,")
print("accept, a 2 KB offer, a 2 KB answer, 8 ICE candidates each way, hang up. Against the bare relay the")
print("same messages are relayed (it has no registration, ringing or hang-up, so switchboard's figure")
print("includes two registration round trips the baseline does not make).\n")
print("| server | setups/s | setup p50 / p99 / p999 (µs) | p99 ratio to bare relay | server CPU (s) |")
print("|---|---:|---|---:|---:|")
base = results.get("setup-baseline")
for name in ("setup-baseline", "setup-switchboard"):
    r = results.get(name)
    if not r:
        continue
    p = r["setup_us"]
    ratio = p["p99"] / base["setup_us"]["p99"] if base else float("nan")
    print(f"| {r['target']} | {r['setups_per_s']:,.0f} | {p['p50']} / {p['p99']} / {p['p999']} | {ratio:.2f} | {r['server_cpu_s']} |")
print("\nTarget: setup p99 ≤ 2× the bare relay's.\n")
print("## Not measured yet\n")
print("The idle-sessions scenario (memory per session), the calling and socket.io variants, the original")
print("calling-signaling server as a baseline, and the criterion figures are still to be added to this page")
print("(criterion: `cargo bench -p switchboard-core -p switchboard-dialects`).")
