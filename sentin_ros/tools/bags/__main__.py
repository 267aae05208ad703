"""`python -m sentin_ros.tools.bags` = `sentin-ros bag`."""
import sys

from .cli import main

sys.exit(main())
