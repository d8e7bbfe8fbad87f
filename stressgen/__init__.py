"""stressgen: a high-throughput load generator for Kubescape's runtime-alert pipeline."""

from __future__ import annotations

__version__ = "0.1.0"
