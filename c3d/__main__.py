import sys

from c3d.cli import main

sys.exit(main())
