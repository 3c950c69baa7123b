"""Repository-wide pytest setup: keep pytest out of folders that hold no tests.

`bench/` scripts measure (they are run by hand or `make bench`, never collected); `reports/` and
`.gameday/` hold run output and lab state. Scenario fixtures live in scenarios/conftest.py, the
suite's own in tests/conftest.py; gameday's plugin itself is registered through `pytest11`.
"""

collect_ignore = ["bench", "reports", ".gameday", ".venv"]
