import sys

from vidsync.cli.main import main

sys.exit(main())
