"""``make bench``: throughput and memory figures of c3d on this machine (see __main__).

The bench writes its inputs with the test suite's fixture writers (synthetic videos, a
full-size Caffe model), which live in tests/ and not in the installed package.
"""

import os
import sys

TESTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
if TESTS_DIR not in sys.path:
    sys.path.append(TESTS_DIR)
