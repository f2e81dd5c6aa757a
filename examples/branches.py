"""Logic-driven code: if/else and while on traced values, and what their derivatives mean.

This example ships with lagrad as `lagrad.examples.branches` (src/lagrad/examples/branches.py);
this script runs it from a checkout. Run: python examples/branches.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.branches", run_name="__main__", alter_sys=True)
