"""Gradient time and peak memory, as ratios to the plain NumPy forward pass, in one run.

    python benchmarks/run.py                # the table (peers that are not installed are skipped)
    python benchmarks/run.py --case c       # one problem
    python benchmarks/run.py --size 0.1     # smaller problems, for a quick look

Every cell runs in a fresh Python process: the library is imported, the problem
built and the gradient run once to warm up; the time is the best of the runs made
in about two seconds (at least --repeats); peak memory is the rise of the process's resident set (VmHWM, reset
before the measured run) above what it held just before. Peers: ``pip install
-e ".[bench]"`` (autograd, jax, torch==2.13.0).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cases import CASES, LIBRARIES, ONLY, build  # noqa: E402  (benchmarks/ is not a package)

TARGETS = {"a": 4.0, "b": 120.0, "c": 5.0, "d": 5.0, "e": 5.0}  # lagrad's time ratio, from the issue


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def _trim() -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure(library: str, case: str, size: float, repeats: int) -> dict[str, float]:
    """Time (best of `repeats`) and peak extra memory of one cell, in this process."""
    run = build(library, case, size)
    run()  # warm up: imports, caches, first-call costs
    times = []
    start_all = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start_all < 2.0 and len(times) < 200):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        if time.perf_counter() - start_all > 20.0 and len(times) >= 3:
            break
    _trim()
    baseline = _status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the high-water mark to the current resident set
        peak = _status("VmHWM")
        run()
        peak = _status("VmHWM") - baseline
    except OSError:
        import tracemalloc

        tracemalloc.start()
        run()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"time": min(times), "peak": max(peak, 4096)}


def _cell(library: str, case: str, size: float, repeats: int) -> dict[str, float] | None:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([os.path.join(HERE, "..", "src"), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--cell", library, case, str(size), str(repeats)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode != 0:
        print(f"  {library} on ({case}) failed:\n{proc.stderr.strip()[-800:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def available(library: str) -> bool:
    return library in ("numpy", "lagrad") or importlib.util.find_spec(library) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="problems to run (default: all)")
    parser.add_argument("--size", type=float, default=1.0, help="scale the problems (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per cell, at least (default 7)")
    parser.add_argument("--libraries", nargs="*", default=list(LIBRARIES), help="libraries to compare")
    parser.add_argument("--cell", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        library, case, size, repeats = args.cell
        print(json.dumps(measure(library, case, float(size), int(repeats))))
        return
    libraries = [lib for lib in args.libraries if available(lib)]
    skipped = [lib for lib in args.libraries if lib not in libraries]
    rows = []
    for case in args.case or sorted(CASES):
        base = _cell("numpy", case, args.size, args.repeats)
        if base is None:
            continue
        for library in libraries:
            if library == "numpy" or library not in ONLY.get(case, LIBRARIES):
                continue
            cell = _cell(library, case, args.size, args.repeats)
            if cell is not None:
                rows.append((case, library, cell, base))
    version = sys.version.split()[0]
    print(f"gradient cost as a ratio to the plain NumPy forward pass (size {args.size:g}, python {version})")
    print(f"{'case':<5}{'library':<10}{'time':>12}{'ratio':>9}{'peak MB':>10}{'mem ratio':>11}   numpy forward")
    for case, library, cell, base in rows:
        mark = ""
        if library == "lagrad" and args.size == 1.0:
            mark = "  ok" if cell["time"] / base["time"] <= TARGETS[case] else f"  above target {TARGETS[case]:g}x"
        print(
            f"({case})  {library:<10}{cell['time'] * 1e3:>9.2f} ms{cell['time'] / base['time']:>8.1f}x"
            f"{cell['peak'] / 2**20:>10.2f}{cell['peak'] / base['peak']:>10.1f}x"
            f"   {base['time'] * 1e3:.2f} ms, {base['peak'] / 2**20:.2f} MB{mark}"
        )
    for case in args.case or sorted(CASES):
        print(f"({case}) {CASES[case]}")
    if skipped:
        print(f"skipped (not installed): {', '.join(skipped)}")


if __name__ == "__main__":
    main()
