#!/usr/bin/env python3
"""balloon-rss.py VMM GUEST TEST: run the virtio guest's balloon job
(TEST = balloon or touch) and print the VMM's resident memory (KiB) after
the guest dirtied its pages and after it inflated them, one line each:
"rss-touched N", "rss-after N", then the guest's lines.  The guest waits
for a newline on its console between the steps, so the measurements are
taken while it is paused."""
import subprocess
import sys

vmm, guest, test = sys.argv[1:4]
p = subprocess.Popen([vmm, "--kernel", guest, "--cmdline", "test=" + test, "--balloon", "0"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def rss():
    with open("/proc/%d/status" % p.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


lines = []
for step in ("rss-touched", "rss-after"):
    line = p.stdout.readline()
    if not line:
        break
    lines.append(line.rstrip("\n"))
    print(step, rss())
    p.stdin.write("\n")
    p.stdin.flush()
rest, _ = p.communicate(timeout=60)
lines += rest.splitlines()
for line in lines:
    print(line)
print("exit", p.returncode)
