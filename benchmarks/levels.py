"""When the `levels` solver pays: back-substitution against level-scheduled back-substitution
(each level's blocks in a thread pool) on the Inception-style block of
examples/inception_block.py, from small arrays (Python overhead dominates: levels loses)
to large ones (matrix products release the GIL: independent branches overlap).

    python benchmarks/levels.py
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

import lagrad
from lagrad.adjoint import solvers

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cases import best

from lagrad.examples.inception_block import inception_block, make_weights


def main() -> None:
    print("| batch × channels × width | back_substitution | levels | levels / back_substitution |")
    print("| --- | ---: | ---: | ---: |")
    for batch, channels, width in ((8, 4, 3), (256, 64, 64), (1024, 256, 256), (2048, 512, 512)):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, channels))
        weights, head = make_weights(rng, channels, width)
        system = lagrad.adjoint(inception_block, x, weights, head)
        back = best(lambda: solvers.solve(system, "back_substitution"))
        levels = best(lambda: solvers.solve(system, "levels"))
        print(f"| {batch} × {channels} × {width} | {back * 1e3:.2f} ms | {levels * 1e3:.2f} ms | {levels / back:.2f} |")


if __name__ == "__main__":
    main()
