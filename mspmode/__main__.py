from mspmode.cli import main

main()
