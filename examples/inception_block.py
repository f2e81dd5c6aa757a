"""An Inception-style block: parallel branches of different depth, merged by concatenation.

This example ships with lagrad as `lagrad.examples.inception_block` (src/lagrad/examples/inception_block.py);
this script runs it from a checkout. Run: python examples/inception_block.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.inception_block", run_name="__main__", alter_sys=True)
