# sentin_ros — embedded (PyPI wheels, no ROS install) workflow. In a ROS workspace use colcon.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sentin_setup_stamp
VIDEO ?=
ARGS ?=

.PHONY: setup test lint demo bench eval clean

$(STAMP): requirements.txt CMakeLists.txt package.xml $(wildcard msg/*.msg srv/*.srv)
	./scripts/setup_env.sh

setup:
	./scripts/setup_env.sh

lint: $(STAMP)
	$(PY) -m ruff check sentin_ros test training benchmarks scripts launch

test: $(STAMP) lint
	$(PY) -m pytest -q --reruns 2 --reruns-delay 1 test

demo: $(STAMP)
	$(PY) -m sentin_ros demo $(if $(VIDEO),--video $(VIDEO)) $(ARGS)

bench: $(STAMP)
	$(PY) -m sentin_ros bench $(ARGS)

clean:
	rm -rf build out .pytest_cache .ruff_cache
