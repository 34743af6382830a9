"""`python -m gateway` is `copygate`."""

from gateway.cli import main

raise SystemExit(main())
