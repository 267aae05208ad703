"""`python -m sentin_ros.tools.bench` = `sentin-ros bench`."""
import sys

from .cli import main

sys.exit(main())
