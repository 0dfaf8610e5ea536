"""Self-Harness inside Harbor.

``SelfHarnessAgent`` (``--agent-import-path self_harness_harbor:SelfHarnessAgent``) runs
one Self-Harness episode per trial: ``self-harness act --stdio`` decides every turn with
the harness given as ``--ak harness=DIR``, and this package performs its commands through
the trial environment. ``OfflineDockerEnvironment`` is Harbor's Docker environment for
hosts without a registry. The protocol and the set-up are in ``docs/harbor.md``.
"""

from self_harness_harbor.agent import SelfHarnessAgent
from self_harness_harbor.offline_docker import OfflineDockerEnvironment

__all__ = ["SelfHarnessAgent", "OfflineDockerEnvironment"]
