from runner.cli import main_entry

main_entry()
