# The two commands README promises: `make demo` and `make test`. Both create .venv/ when missing.
PY := .venv/bin/python
.PHONY: env demo test test-slow clean-env

env:
	@bash scripts/setup_env.sh

demo: env
	@bash scripts/demo.sh

test: env
	$(PY) -m pytest -q tests

test-slow: env
	$(PY) -m pytest -q -m slow tests

clean-env:
	rm -rf .venv
