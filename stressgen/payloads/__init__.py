"""Both sides of the runtime-alert contract: render node-agent bodies, decode them strictly.

- :class:`AlertTemplate` and :class:`PayloadFactory` build request bodies fast;
- :func:`decode_runtime_alerts`, :func:`check_required` and
  :func:`validate_runtime_alerts` check a body the way the backend would;
- :data:`RUNTIME_ALERTS_PATH` and :func:`alerts_url` say where bodies go.
"""

from __future__ import annotations

from stressgen.payloads.endpoint import ALERTS_SUFFIX, RUNTIME_ALERTS_PATH, alerts_url
from stressgen.payloads.factory import PayloadFactory
from stressgen.payloads.schema import (
    InvalidAlerts,
    RuntimeAlert,
    RuntimeAlertsRequest,
    check_required,
    decode_runtime_alerts,
    validate_runtime_alerts,
)
from stressgen.payloads.template import MAX_ALERTS_PER_REQUEST, AlertTemplate

__all__ = [
    "ALERTS_SUFFIX",
    "MAX_ALERTS_PER_REQUEST",
    "RUNTIME_ALERTS_PATH",
    "AlertTemplate",
    "InvalidAlerts",
    "PayloadFactory",
    "RuntimeAlert",
    "RuntimeAlertsRequest",
    "alerts_url",
    "check_required",
    "decode_runtime_alerts",
    "validate_runtime_alerts",
]
