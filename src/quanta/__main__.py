from quanta.cli import main

main()
