#!/usr/bin/env bash
# Embedded set-up: ROS 2 Jazzy from PyPI wheels into ./.venv, then the sentin_ros interfaces
# built with ament_cmake and installed into the same prefix. Idempotent; fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
STAMP=$VENV/.sentin_setup_stamp

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# System library needed by the OpenCV wheel that mediapipe pulls in.
if ! ldconfig -p 2>/dev/null | grep -q 'libGL.so.1'; then
  say "installing libgl1 + libglib2.0-0 (needed by opencv-contrib-python)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null
fi
command -v cmake >/dev/null || { echo "cmake is required (apt-get install cmake)" >&2; exit 1; }

"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "the ros-jazzy wheels are built for CPython 3.11; set PYTHON=python3.11"'

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi

REQ_HASH=$(cat requirements.txt msg/*.msg srv/*.srv CMakeLists.txt package.xml | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$REQ_HASH" ] && "$VENV/bin/python" -c 'import sentin_ros.msg' 2>/dev/null; then
  say "environment up to date ($VENV)"
  exit 0
fi

say "installing requirements (one resolver run)"
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -m pip install -q -r requirements.txt 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -c 'import rclpy, mediapipe, ai_edge_litert, rosbags, cv2' \
  || { echo "requirements did not install" >&2; exit 1; }

SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PYINC=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
NPINC=$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')

say "re-pointing the wheels' exported cmake files to this Python ($PYINC) and numpy ($NPINC)"
{ grep -rlE '/opt/python/cp311-cp311' "$VENV/share" --include='*.cmake' 2>/dev/null || true; } | while read -r f; do
  sed -i -E \
    -e "s#/opt/python/cp311-cp311/lib/python3\.11/site-packages/numpy/(_core|core)/include#${NPINC}#g" \
    -e "s#/opt/python/cp311-cp311/include/python3\.11#${PYINC}#g" "$f"
done

say "building the sentin_ros interfaces into $VENV"
export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV
export PATH=$VENV/bin:$PATH
BUILD=$ROOT/build/embedded
rm -rf "$BUILD"; mkdir -p "$ROOT/build"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_INSTALL_PREFIX="$VENV" -DSENTIN_INSTALL_PYTHON=OFF \
  -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python" -DCMAKE_BUILD_TYPE=Release > "$BUILD.log" 2>&1 \
  || { tail -40 "$BUILD.log"; echo "cmake configure failed (log: $BUILD.log)" >&2; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" >> "$BUILD.log" 2>&1 \
  || { tail -40 "$BUILD.log"; echo "interface build failed (log: $BUILD.log)" >&2; exit 1; }
cmake --install "$BUILD" >> "$BUILD.log" 2>&1 \
  || { tail -20 "$BUILD.log"; echo "interface install failed" >&2; exit 1; }

(cd /tmp && "$VENV/bin/python" -c 'from sentin_ros.msg import FaceArray, Emotion, Stress, Gaze; from sentin_ros.srv import CalibrateGaze; print("interfaces OK")') \
  || { echo "the built interfaces do not import" >&2; exit 1; }
echo "$REQ_HASH" > "$STAMP"
say "done: $VENV (ROS 2 Jazzy from PyPI wheels)"
