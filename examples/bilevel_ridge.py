"""Bilevel ridge regression: the regularisation strength chosen through `lagrad.argmin`.

This example ships with lagrad as `lagrad.examples.bilevel_ridge` (src/lagrad/examples/bilevel_ridge.py);
this script runs it from a checkout. Run: python examples/bilevel_ridge.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.bilevel_ridge", run_name="__main__", alter_sys=True)
