"""Maximum-likelihood fits: maximisation as the minimisation of the negation, via lagrad.optimize.

This example ships with lagrad as `lagrad.examples.maximize` (src/lagrad/examples/maximize.py);
this script runs it from a checkout. Run: python examples/maximize.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.maximize", run_name="__main__", alter_sys=True)
