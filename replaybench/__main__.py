from replaybench.cli.commands import main

main()
