"""``python -m bench.weights OUT.weights.h5``: full-size C3D weights, seeded random.

For benchmarks where the Sports-1M weights are not at hand (speed does not depend on the
values; see tests/random_weights.py for why they are He-normal). Any Keras backend.
"""

import sys

import bench  # noqa: F401  (puts tests/ on the path, where the writer lives)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m bench.weights OUT.weights.h5")
    from random_weights import write_random_weights

    write_random_weights(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
