import sys

from dolphin_ae.cli import main

sys.exit(main())
