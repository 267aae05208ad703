"""`python -m sentin_ros ...` = `sentin-ros ...` (see sentin_ros/cli.py)."""
import sys

from .cli import main

sys.exit(main())
