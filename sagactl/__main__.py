import sys

from sagactl.main import main

sys.exit(main())
