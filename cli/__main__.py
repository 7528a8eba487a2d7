"""`python -m cli`: the `oaktree` command without the console script."""

from cli import main

main()
