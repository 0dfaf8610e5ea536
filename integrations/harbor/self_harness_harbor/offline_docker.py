"""Harbor's Docker environment on a host that reaches no registry.

Harbor 0.25.0 enforces a task's ``no-network`` policy on Docker with an egress-control
sidecar whose images (``gogost/gost``, an ``alpine`` kernel probe) come from Docker Hub.
Where no registry can be reached the probe fails and Harbor refuses every task that asks
for no network, although Docker itself can enforce it: this environment does so with
Harbor's own ``docker-compose-no-network.yaml`` overlay (``network_mode: none``). Tasks
that allow the internet run exactly as in the Docker environment; allowlists and policies
that change between phases are not offered (Harbor then refuses the task, naming why).
Images are always built from the task's Dockerfile by ``docker compose build``: a
prebuilt ``docker_image`` would have to be pulled. A ``FROM`` image must exist locally
(``self-harness images build``, and the first local run of a task, tag the stand-ins
Self-Harness builds for registry images). The main service runs under Docker's init, so
that removing a trial's containers takes a moment rather than Docker's 10 s stop timeout
(``docker-compose-init.yaml``; measured by ``cargo bench --bench backends``).
"""

from pathlib import Path

from harbor.environments.capabilities import EnvironmentCapabilities
from harbor.environments.docker import COMPOSE_NO_NETWORK_PATH
from harbor.environments.docker.docker import DockerEnvironment
from harbor.models.task.config import NetworkMode

COMPOSE_INIT_PATH = Path(__file__).with_name("docker-compose-init.yaml")


class OfflineDockerEnvironment(DockerEnvironment):
    @classmethod
    def _egress_control_kernel_support(cls) -> bool:
        # The sidecar cannot be had offline; `network_mode: none` needs no probe.
        return False

    async def start(self, force_build: bool):
        await super().start(force_build=True)

    @property
    def capabilities(self) -> EnvironmentCapabilities:
        return super().capabilities.model_copy(update={"disable_internet": True})

    @property
    def _docker_compose_paths(self) -> list[Path]:
        paths = super()._docker_compose_paths
        if self.network_policy.network_mode == NetworkMode.NO_NETWORK:
            paths.append(COMPOSE_NO_NETWORK_PATH)
        return [*paths, COMPOSE_INIT_PATH]
