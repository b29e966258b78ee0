import sys

from tulip.localstack.launcher import main

sys.exit(main())
