from communal_sync.cli import main

main()
