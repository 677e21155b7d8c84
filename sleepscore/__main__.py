from sleepscore.cli import main

main()
