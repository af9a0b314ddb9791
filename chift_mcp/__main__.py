import sys

from chift_mcp.cli import main

sys.exit(main())
