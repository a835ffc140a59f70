"""Turns heaptrack_print's peak consumers into bytes per idle session.

    python3 scripts/heap_report.py PEAKS.txt SESSIONS

Each line: the bytes a call site held at the heap's peak, divided by the
sessions open then, and the first frames of its backtrace outside the
standard library, tokio's channel and task internals, bytes and hashbrown
(the code that asked, not the allocator's plumbing).
"""
import re
import sys

UNIT = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
PLUMBING = re.compile(r"(/rustc/|library/(std|alloc|core)|tokio-[\d.]+/src/(sync/mpsc|runtime|task|loom)|(^|/)bytes-|hashbrown)")


def peaks(lines):
    """(bytes, calls, frames) per peak consumer, largest first."""
    entry = None
    for line in lines:
        head = re.match(r"^([0-9.]+)([KMG]?)B? peak memory consumed over (\d+) calls from", line)
        if head:
            if entry:
                yield entry
            entry = (float(head.group(1)) * UNIT[head.group(2)], int(head.group(3)), [])
            continue
        frame = re.match(r"^\s+at (.*)$", line)
        if entry and frame:
            entry[2].append(re.sub(r".*registry/src/[^/]+/|.*?/(?=crates/)", "", frame.group(1)))
    if entry:
        yield entry


def main():
    text = open(sys.argv[1]).read().split("\n")
    sessions = int(sys.argv[2])
    total = next((line for line in text if line.startswith("peak heap memory consumption")), "")
    print(f"{total} ({sessions} sessions)")
    for size, calls, frames in peaks(text):
        asked = [frame for frame in frames if not PLUMBING.search(frame)] or frames
        print(f"{size / sessions:7.0f} B/session  {calls:6} calls  " + " <- ".join(asked[:3]))


main()
