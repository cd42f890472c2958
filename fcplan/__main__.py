from fcplan.cli import main

main()
