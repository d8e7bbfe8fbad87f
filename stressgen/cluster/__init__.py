"""The cluster side: reaching a real synchronizer and setting up what it needs.

- :mod:`~stressgen.cluster.config`: the settings (kube access, port-forward, install);
- :mod:`~stressgen.cluster.commands`: kubectl/helm as argument lists, secrets redacted;
- :mod:`~stressgen.cluster.target` and :mod:`~stressgen.cluster.portforward`: whether to
  forward, and a supervised ``kubectl port-forward`` (:func:`forwarded`);
- :mod:`~stressgen.cluster.helm` and :mod:`~stressgen.cluster.lifecycle`: the plans of
  ``cluster up``/``down`` and running them;
- :mod:`~stressgen.cluster.doctor`: ``stressgen doctor``'s checks.
"""

from __future__ import annotations

from stressgen.cluster.config import ClusterConfig, ForwardConfig, KubeAccess
from stressgen.cluster.portforward import PortForward, forwarded

__all__ = ["ClusterConfig", "ForwardConfig", "KubeAccess", "PortForward", "forwarded"]
