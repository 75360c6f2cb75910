"""``python -m mlctl`` runs the command line."""

from mlctl.cli.main import main

main()
