"""Studies of the project's own choices, importable and tested (scripts/ holds their thin CLIs)."""
