#!/usr/bin/env python3
"""make bench: part2_pdc side by side with socat, on loopback only.

- a 1 GiB CMD_floodme received by part2_pdc and by `socat -b 131072`
  (target: part2_pdc at least as fast, peak RSS under 32 MiB);
- 10^6 coalesced CMD_short:0 messages printed by part2_pdc and copied raw by
  socat (target: at most 1.5x socat's time);
- binary sizes and start-up time.

Both clients read from the same lab_server, one after the other, output to
/dev/null; each figure is the median of --repeat runs. Peak RSS comes from
GNU time (`/usr/bin/time -f %M`): Python's own wait4() would count the pages
of the forked Python interpreter before exec, about 15 MiB. socat and GNU time are installed with apt-get when missing; the two
clients' runs are interleaved so that drift in the machine's load hits both. Results are printed
as a Markdown table and written to bench/results/part2.md.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def ensure(tool, package):
    """Whether `tool` is there, after installing `package` if it was not."""
    if shutil.which(tool) or os.path.exists(tool):
        return True
    print(f"bench: {tool} missing, installing {package} with apt-get", file=sys.stderr)
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            print(f"bench: could not install {package}", file=sys.stderr)
            return False
    return shutil.which(tool) is not None or os.path.exists(tool)


class LabServer:
    """lab_server on 127.0.0.1 and ::1, on a free port."""

    def __init__(self, bin_dir, *args):
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "lab_server"), "--only", "tcp", "--tcp-port", "0", "--quiet", *args],
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = None
        deadline = time.time() + 120
        for line in self.proc.stderr:
            m = re.search(r"TCP PMU on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            if "floodme text ready" in line:
                break
            if time.time() > deadline:
                break
        if self.port is None:
            self.proc.kill()
            raise SystemExit("bench: lab_server did not start")

    def close(self):
        self.proc.kill()
        self.proc.wait()


GNU_TIME = "/usr/bin/time"


def measure(argv, stdin_bytes=None):
    """Runs argv with stdout to /dev/null; returns (seconds, peak RSS KiB)."""
    with open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "%M", *argv], input=stdin_bytes or b"",
                              stdout=devnull, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
    err = proc.stderr.decode(errors="replace").strip()
    if proc.returncode != 0:
        raise SystemExit(f"bench: {argv[0]} failed: {err}")
    return elapsed, int(err.splitlines()[-1])


def interleaved(runs, repeat):
    """Median time and peak RSS of each (argv, stdin) in runs, run in turn."""
    results = [[] for _ in runs]
    for _ in range(repeat):
        for i, (argv, stdin_bytes) in enumerate(runs):
            results[i].append(measure(argv, stdin_bytes))
    return [(statistics.median(t for t, _ in r), max(m for _, m in r)) for r in results]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", default="target/release")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--flood", default="1GiB")
    ap.add_argument("--messages", type=int, default=1_000_000)
    args = ap.parse_args()

    pdc = os.path.join(args.bin_dir, "part2_pdc")
    if not ensure(GNU_TIME, "time"):
        raise SystemExit("bench: GNU time is needed to measure peak RSS")
    have_socat = ensure("socat", "socat")
    rows = []
    server = LabServer(args.bin_dir, "--flood-bytes", args.flood, "--messages", str(args.messages))
    try:
        host, port = "127.0.0.1", str(server.port)
        socat = ["socat", "-b", "131072", "-t", "60", "-", f"TCP:{host}:{port}"]
        for label, command in ((f"floodme {args.flood}", "CMD_floodme"), (f"CMD_short:0 x {args.messages}", "CMD_short:0")):
            # One untimed run each: the server builds its flood text lazily.
            measure([pdc, "--host", host, "--port", port, command])
            runs = [([pdc, "--host", host, "--port", port, command], None)]
            if have_socat:
                runs.append((socat, command.encode()))
            results = interleaved(runs, args.repeat)
            row = {"case": label, "pdc_s": results[0][0], "pdc_rss": results[0][1]}
            if have_socat:
                row.update(socat_s=results[1][0], socat_rss=results[1][1])
            rows.append(row)
    finally:
        server.close()

    sizes = {b: os.path.getsize(os.path.join(args.bin_dir, b)) for b in sorted(os.listdir(args.bin_dir))
             if os.access(os.path.join(args.bin_dir, b), os.X_OK) and os.path.isfile(os.path.join(args.bin_dir, b))
             and "." not in b}
    start_runs = 50
    t0 = time.perf_counter()
    for _ in range(start_runs):
        subprocess.run([pdc, "--version"], stdout=subprocess.DEVNULL, check=True)
    startup_ms = (time.perf_counter() - t0) / start_runs * 1000

    lines = ["# part2_pdc benchmark", "",
             f"{os.cpu_count()} cores, median of {args.repeat} runs, loopback, output to /dev/null.", "",
             "| case | part2_pdc | socat -b 131072 | ratio pdc/socat | pdc peak RSS | socat peak RSS | target |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        flood = row["case"].startswith("floodme")
        if "socat_s" in row:
            ratio = row["pdc_s"] / row["socat_s"]
            ok = (ratio <= 1.0 and row["pdc_rss"] < 32 * 1024) if flood else ratio <= 1.5
            target = ("<= 1.0x, RSS < 32 MiB" if flood else "<= 1.5x") + (" ✔" if ok else " ✘")
            socat_cols = f"{row['socat_s']:.3f} s | {ratio:.2f} | {row['pdc_rss'] / 1024:.1f} MiB | {row['socat_rss'] / 1024:.1f} MiB"
        else:
            socat_cols = f"– | – | {row['pdc_rss'] / 1024:.1f} MiB | –"
            target = "socat missing"
        lines.append(f"| {row['case']} | {row['pdc_s']:.3f} s | {socat_cols} | {target} |")
    lines += ["", f"part2_pdc start-up (`--version`, mean of {start_runs}): {startup_ms:.2f} ms", "",
              "| binary | size |", "|---|---|"]
    lines += [f"| {b} | {s / 1024:.0f} KiB |" for b, s in sizes.items()]
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "part2.md"), "w") as f:
        f.write(report)


if __name__ == "__main__":
    main()
