import sys

from glalign.cli import main

sys.exit(main())
