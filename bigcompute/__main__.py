"""`python -m bigcompute` runs the CLI (handy where the console script is not on PATH)."""

from bigcompute.cli.main import main

main()
