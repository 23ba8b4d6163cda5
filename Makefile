# photostyle — make setup | photo | test | bench | lint
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The package and what it runs on (make photo); the test and lint tools on top (make setup/test).
RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

# make photo [CONTENT=a.jpg STYLE=b.jpg CONTENT_MASK=… STYLE_MASK=… OUT=… ARGS="…"]
CONTENT ?= data/rocket_content.png
STYLE ?= data/rocket_style.png
CONTENT_MASK ?= $(if $(filter $(CONTENT),data/rocket_content.png),data/rocket_content_mask.png,)
STYLE_MASK ?= $(if $(filter $(STYLE),data/rocket_style.png),data/rocket_style_mask.png,)
OUT ?= out/photo.png
ARGS ?=
MASK_ARGS := $(if $(CONTENT_MASK),--content-mask $(CONTENT_MASK),) $(if $(STYLE_MASK),--style-mask $(STYLE_MASK),)

.PHONY: setup photo test bench lint clean

setup: $(STAMP)

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

photo: $(RUNTIME)
	mkdir -p $(dir $(OUT))
	$(BIN)/photostyle $(CONTENT) $(STYLE) $(MASK_ARGS) -o $(OUT) --save-stages $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

lint: $(STAMP)
	$(BIN)/ruff check photostyle segment matting tests benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache
