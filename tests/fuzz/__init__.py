"""Fuzzing: hypothesis strategies (strategies.py) and the coverage-guided parser target."""
