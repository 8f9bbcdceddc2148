"""`python -m sweep`: the same command line as `sweep`."""

from sweep.cli import main

main()
