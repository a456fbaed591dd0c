"""`python -m redshift_idc.client`: the client's own command, with only `pip install .` installed."""

import sys

from redshift_idc.client.command import main

if __name__ == "__main__":
    sys.exit(main())
