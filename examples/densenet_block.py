"""A DenseNet-style block: every layer reads the outputs of all the layers before it.

This example ships with lagrad as `lagrad.examples.densenet_block` (src/lagrad/examples/densenet_block.py);
this script runs it from a checkout. Run: python examples/densenet_block.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.densenet_block", run_name="__main__", alter_sys=True)
