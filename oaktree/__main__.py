from oaktree.cli import main

main()
