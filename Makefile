# c3d-keras — every target works natively (a .venv made on demand) and, for the
# targets that run the model, in the GPU Docker image when a Docker engine answers.
#   make example           classify, plot and extract features of the example video (fetches
#                          the Sports-1M weights into the cache on first use; WEIGHTS=ucf101 …)
#   make test              the test suite (sets itself up first)
#   USE_DOCKER=0|1         force native / Docker (default: Docker if `docker info` works)

PYTHON      ?= python3
VENV        ?= .venv
VPY         := $(VENV)/bin/python
IMAGE       ?= c3d-keras:latest
MODELS      ?= $(CURDIR)/models
# The converted Sports-1M weights: the repository's models/ when they are there, else the
# name `sports1m`, which c3d finds in its cache ($C3D_HOME, else ~/.keras/models) or fetches
# there on first use (`c3d weights` lists the other names).
WEIGHTS     ?= $(or $(wildcard models/c3d_sports1m.weights.h5),sports1m)
CAFFEMODEL  ?=
EXAMPLE     ?= examples/v_BaseballPitch_g01_c01.avi
UCF101_DIR  ?=
UCF101_SPLIT ?= 1
RUN_DIR     ?= runs/ucf101
# Two workers, a file each at a time (module fixtures stay in one process): 13:40 against
# 18:08 in one process on the 2-core CI machine, most tests waiting on a child's start-up.
PYTEST_ARGS ?= -n 2 --dist loadfile
USE_DOCKER  ?= $(shell docker info >/dev/null 2>&1 && echo 1 || echo 0)

STAMP := $(VENV)/.installed
DOCKER_RUN := docker run --rm --gpus all -v $(MODELS):/app/models $(IMAGE)

.PHONY: build venv example convert-weights test bench lint clean train-ucf101 help

help:
	@sed -n '1,6p' Makefile | sed 's/^# \{0,1\}//'

# --- set-up -----------------------------------------------------------------
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $(STAMP)

venv: $(STAMP)

ifeq ($(USE_DOCKER),1)
build:
	docker build -t $(IMAGE) .
example: build
	$(DOCKER_RUN) make example USE_DOCKER=0
convert-weights: build
	$(DOCKER_RUN) make convert-weights USE_DOCKER=0 CAFFEMODEL=$(CAFFEMODEL)
bench: build
	$(DOCKER_RUN) make bench USE_DOCKER=0
else
build: $(STAMP)

example: $(STAMP)
	$(VPY) -m c3d.commands.example --weights $(WEIGHTS) --video $(EXAMPLE)

# Into the weights cache (in the Docker image: /app/models, the mounted models/).
convert-weights: $(STAMP)
	$(VPY) -m c3d fetch-weights $(if $(CAFFEMODEL),--caffemodel $(CAFFEMODEL))

bench: $(STAMP)
	$(VPY) -m bench
endif

# pytest exits 5 when it collected no test: say so plainly (a suite that ran nothing fails).
test: $(STAMP)
	@$(VPY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile

train-ucf101: $(STAMP)
	@test -n "$(UCF101_DIR)" || { echo "usage: make train-ucf101 UCF101_DIR=/path/to/UCF101 (with ucfTrainTestlist/)" >&2; exit 2; }
	$(VPY) -m c3d train $(UCF101_DIR)/UCF-101 -o $(RUN_DIR) --model c3d --weights $(WEIGHTS) \
	  --train-list $(UCF101_DIR)/ucfTrainTestlist/trainlist0$(UCF101_SPLIT).txt \
	  --val-list $(UCF101_DIR)/ucfTrainTestlist/testlist0$(UCF101_SPLIT).txt \
	  --classes $(UCF101_DIR)/ucfTrainTestlist/classInd.txt \
	  $(if $(wildcard $(RUN_DIR)/config.json),--resume) $(TRAIN_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache bench/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
