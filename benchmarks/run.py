"""Gradient time and peak memory, as ratios to the plain NumPy forward pass, in one run.

    python benchmarks/run.py                # the table (peers that are not installed are skipped)
    python benchmarks/run.py --case c       # one problem
    python benchmarks/run.py --size 0.1     # smaller problems, for a quick look
    python benchmarks/run.py --rounds 5     # every cell of a case five times, interleaved; best of each

Every cell runs in a fresh Python process: the library is imported, the problem
built and the gradient run once to warm up (forms and floors: see cases.py); the time is the best of the runs made
in about two seconds (at least --repeats); peak memory is the rise of the process's resident set (VmHWM, reset
before the measured run) above what it held just before. The cells of a case are measured
--rounds times, round after round in alternating order, and each keeps its best round: a cell
measured once, minutes after its peer, compares two loads as much as two libraries (the seed
network's lagrad and autograd cells differ by less than the load moves a lone cell). Peers: ``pip install
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

from cases import CASES, FLOORS, FORMS, FUSED, LIBRARIES, ONLY, build  # noqa: E402  (benchmarks/ is not a package)

TARGETS = {"a": 4.0, "b": 120.0, "c": 5.0, "d": 5.0, "e": 5.0}  # lagrad's time ratio, from the issue
#: Every library's linear algebra on one thread: on a shared 2-core machine a second BLAS
#: thread waits for a core, and the spinning made one 0.4 ms matmul take 30 ms.
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def _trim() -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure(library: str, case: str, size: float, repeats: int, form: str) -> dict[str, float]:
    """Time (best of `repeats`) and peak extra memory of one cell, in this process."""
    run = build(library, case, size, form)
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


def _cell(library: str, case: str, size: float, repeats: int, form: str) -> dict[str, float] | None:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([os.path.join(HERE, "..", "src"), os.environ.get("PYTHONPATH", "")]),
        **SINGLE_THREADED,
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--cell", library, case, str(size), str(repeats), form],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if proc.returncode != 0:
        print(f"  {library} ({form}) on ({case}) failed:\n{proc.stderr.strip()[-800:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rounds(
    cells: list[tuple[str, str]], case: str, size: float, repeats: int, rounds: int
) -> dict[tuple[str, str], dict[str, float]]:
    """Each (library, form) cell measured `rounds` times, the cells interleaved round by round
    (reversed every other round), keeping each cell's best time and least peak memory."""
    best: dict[tuple[str, str], dict[str, float]] = {}
    for r in range(rounds):
        for key in cells if r % 2 == 0 else cells[::-1]:
            cell = _cell(key[0], case, size, repeats, key[1])
            if cell is None:
                continue
            old = best.get(key)
            best[key] = cell if old is None else {k: min(old[k], cell[k]) for k in cell}
    return best


def available(library: str) -> bool:
    return library in ("numpy", "lagrad") or importlib.util.find_spec(library) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="problems to run (default: all)")
    parser.add_argument("--size", type=float, default=1.0, help="scale the problems (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per cell, at least (default 7)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurements per cell (default 3)")
    parser.add_argument("--libraries", nargs="*", default=list(LIBRARIES), help="libraries to compare")
    parser.add_argument("--cell", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        library, case, size, repeats, form = args.cell
        print(json.dumps(measure(library, case, float(size), int(repeats), form)))
        return
    libraries = [lib for lib in args.libraries if available(lib) and lib != "numpy"]
    skipped = [lib for lib in args.libraries if not available(lib)]
    version = sys.version.split()[0]
    print(f"gradient cost as a ratio to the plain NumPy forward pass (size {args.size:g}, python {version})")
    print("ratios: to NumPy's fastest spelling first, to the user's spelling second; all cells of a case in one run")
    for case in args.case or sorted(CASES):
        forms = FORMS if case in FUSED else FORMS[:1]
        cells = [("numpy", form) for form in FLOORS]
        cells += [(lib, form) for lib in libraries if lib in ONLY.get(case, LIBRARIES) for form in forms]
        results = _rounds(cells, case, args.size, args.repeats, args.rounds)
        fast, user = results.get(("numpy", "fastest")), results.get(("numpy", "user"))
        if fast is None or user is None:
            continue
        print(
            f"({case}) {CASES[case]}: NumPy forward {fast['time'] * 1e3:.2f} ms fastest, "
            f"{user['time'] * 1e3:.2f} ms as users spell it; {fast['peak'] / 2**20:.2f} MB"
        )
        print(f"  {'library':<10}{'form':<7}{'time':>12}{'÷ fastest':>11}{'÷ user':>9}{'peak MB':>10}{'mem ratio':>11}")
        for library in (lib for lib in libraries if lib in ONLY.get(case, LIBRARIES)):
            for form in forms:
                cell = results.get((library, form))
                if cell is None:
                    continue
                mark = ""
                if library == "lagrad" and form == "ops" and args.size == 1.0:
                    ratio = cell["time"] / fast["time"]
                    mark = "  ok" if ratio <= TARGETS[case] else f"  above target {TARGETS[case]:g}x"
                time_cols = f"{cell['time'] * 1e3:>9.2f} ms{cell['time'] / fast['time']:>10.1f}x"
                time_cols += f"{cell['time'] / user['time']:>8.1f}x"
                memory_cols = f"{cell['peak'] / 2**20:>10.2f}{cell['peak'] / fast['peak']:>10.1f}x"
                print(f"  {library:<10}{form:<7}{time_cols}{memory_cols}{mark}")
        for form in forms:
            ours, theirs = results.get(("lagrad", form)), results.get(("autograd", form))
            if ours and theirs:
                paired = ours["time"] / theirs["time"]
                print(f"  lagrad ÷ autograd ({form}), best of {args.rounds} interleaved rounds each: {paired:.2f}")
    if skipped:
        print(f"skipped (not installed): {', '.join(skipped)}")


if __name__ == "__main__":
    main()
