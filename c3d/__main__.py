import sys

from c3d.cli import run_and_exit

sys.exit(run_and_exit())
