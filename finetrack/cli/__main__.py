"""``python -m finetrack.cli <command> ...`` (the same as the ``finetrack`` console script)."""
import sys

from finetrack.cli import main

sys.exit(main())
