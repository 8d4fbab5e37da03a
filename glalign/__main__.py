import sys

from glalign.cli.main import main

sys.exit(main())
