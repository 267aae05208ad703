"""Where the package's own files are (models/, config/, msg/): the checkout when running from one,
else share/sentin_ros of a ROS install."""
from __future__ import annotations

from pathlib import Path


def share_path(*parts: str) -> Path:
    """A file of this package: in the checkout when running from one, else in share/sentin_ros of a ROS install."""
    checkout = Path(__file__).resolve().parents[2].joinpath(*parts)
    if checkout.exists():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("sentin_ros")).joinpath(*parts)
    except Exception:  # neither a checkout nor a ROS install: say where it was looked for
        return checkout
