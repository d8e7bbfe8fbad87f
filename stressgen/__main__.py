"""Allow ``python -m stressgen``."""

from __future__ import annotations

from stressgen.cli import main

if __name__ == "__main__":
    main()
