from replaybench.cli import main

main()
