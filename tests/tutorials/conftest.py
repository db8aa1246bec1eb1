"""The scripts in this folder are not test modules: keep pytest (and --doctest-modules) out.

tests/test_tutorials.py runs them in subprocesses; importing one would run a tutorial.
"""
collect_ignore_glob = ["*.py", "_standin/*"]
