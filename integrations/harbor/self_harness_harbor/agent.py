"""The Self-Harness agent as a Harbor agent class.

Each trial starts ``self-harness act --stdio`` with the harness (``--ak harness=DIR``),
which drives the episode exactly as the local runner does — same prompts, policy, turn
loop and trace — and asks this class, one JSON line at a time, to perform its commands
and uploads in the trial's environment (``environment.exec``, ``environment.upload_file``).
This class is a relay and holds no agent logic. The trace (``trace.jsonl``), its ATIF
trajectory (``trajectory.json``) and the child's log (``self-harness.log``) land in the
trial's agent log folder, where ``self-harness`` reads them back.

Options (``--ak key=value``): ``harness`` (required), ``seed`` and ``attempt`` (the local
runner's episode key and its try at it, 0 unless the infrastructure failed one; default 0;
``trial``, its old name, is read too), ``agent_timeout_sec`` (default: the task's agent
timeout, read from the trial's config, else 600), ``time_limit_sec`` (a cap below it, as
``--episode-timeout`` is locally), ``binary`` (default ``$SELF_HARNESS_BIN``,
else ``self-harness`` on PATH). The model: ``-m`` (an ``openai/`` prefix is dropped) and
the OpenAI-compatible variables ``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` (``--ae`` or the
environment Harbor runs in).
"""

import asyncio
import base64
import json
import os
import posixpath
import shlex
import signal
import tempfile
from pathlib import Path
from typing import Any

from harbor.agents.base import BaseAgent
from harbor.agents.capabilities import AgentCapabilities
from harbor.environments.base import BaseEnvironment
from harbor.models.agent.context import AgentContext

# A request line can carry a whole command's script or an uploaded file.
_LINE_LIMIT = 64 << 20
# How long the child gets to write its outcome after it is told to stop.
_STOP_GRACE_SEC = 20


class SelfHarnessAgent(BaseAgent):
    capabilities = AgentCapabilities(atif=True)

    def __init__(
        self,
        logs_dir: Path,
        model_name: str | None = None,
        harness: str | None = None,
        seed: int | str = 0,
        attempt: int | str | None = None,
        trial: int | str = 0,
        agent_timeout_sec: float | str | None = None,
        time_limit_sec: float | str | None = None,
        binary: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(logs_dir=logs_dir, model_name=model_name, **kwargs)
        if not harness:
            raise ValueError("self-harness needs its harness: --ak harness=DIR")
        self._harness = Path(harness).expanduser().resolve()
        self._seed = int(seed)
        self._attempt = int(attempt if attempt is not None else trial)
        self._agent_timeout_sec = float(agent_timeout_sec) if agent_timeout_sec else None
        self._time_limit_sec = float(time_limit_sec) if time_limit_sec else None
        self._binary = binary or os.environ.get("SELF_HARNESS_BIN") or "self-harness"
        self.finished: dict[str, Any] | None = None

    @staticmethod
    def name() -> str:
        return "self-harness"

    def version(self) -> str:
        return "0.1.0"

    async def setup(self, environment: BaseEnvironment) -> None:
        # Tools and hooks are uploaded by the episode itself (`upload` requests).
        return

    async def run(self, instruction: str, environment: BaseEnvironment, context: AgentContext) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        instruction_file = self.logs_dir / "instruction.md"
        instruction_file.write_text(instruction)
        task, timeout = self._task_and_timeout()
        if self._time_limit_sec:
            timeout = min(timeout, self._time_limit_sec)
        command = [
            self._binary, "act", "--stdio",
            "--harness", str(self._harness),
            "--task", task,
            "--instruction-file", str(instruction_file),
            "--trace-dir", str(self.logs_dir),
            "--seed", str(self._seed),
            "--attempt", str(self._attempt),
            "--agent-timeout", str(max(1, int(timeout))),
        ]
        if self.model_name:
            command += ["--model", self.model_name.removeprefix("openai/")]
        env = {**os.environ, **self._extra_env, "NO_COLOR": "1"}
        with open(self.logs_dir / "self-harness.log", "ab") as log:
            child = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log, env=env, limit=_LINE_LIMIT,
            )
            try:
                await self._relay(child, environment)
            except asyncio.CancelledError:
                await self._stop(child)
                raise
            code = await child.wait()
        self._fill(context)
        if code != 0:
            raise RuntimeError(f"self-harness act exited with {code}; see {self.logs_dir / 'self-harness.log'}")

    def _task_and_timeout(self) -> tuple[str, float]:
        """The task's name and agent timeout, from the trial's config when Harbor wrote one."""
        name = self.logs_dir.parent.name.split("__")[0] or "task"
        timeout = self._agent_timeout_sec
        try:
            config = json.loads((self.logs_dir.parent / "config.json").read_text())
            task_path = Path(config["task"]["path"])
            name = task_path.name or name
            if timeout is None:
                from harbor.models.task.task import Task

                timeout = Task(task_path).config.agent.timeout_sec
                multiplier = config.get("agent_timeout_multiplier") or config.get("timeout_multiplier") or 1.0
                timeout = timeout * float(multiplier) if timeout else None
        except (OSError, KeyError, TypeError, ValueError):
            pass
        return name, timeout or 600.0

    async def _relay(self, child: asyncio.subprocess.Process, environment: BaseEnvironment) -> None:
        assert child.stdout is not None and child.stdin is not None
        while line := await child.stdout.readline():
            if not line.strip():
                continue
            request = json.loads(line)
            if request.get("op") == "finished":
                self.finished = request
                continue
            answer = await self._perform(request, environment)
            child.stdin.write((json.dumps(answer) + "\n").encode())
            await child.stdin.drain()

    async def _perform(self, request: dict[str, Any], environment: BaseEnvironment) -> dict[str, Any]:
        rid = request.get("id")
        try:
            if request.get("op") == "exec":
                timeout = request.get("timeout_sec")
                result = await environment.exec(request["command"], timeout_sec=int(timeout) if timeout else None)
                return {"id": rid, "return_code": result.return_code,
                        "stdout": result.stdout or "", "stderr": result.stderr or ""}
            if request.get("op") == "upload":
                path = request["path"]
                with tempfile.NamedTemporaryFile(delete=False) as file:
                    file.write(base64.b64decode(request["content_base64"]))
                try:
                    await environment.exec(f"mkdir -p {shlex.quote(posixpath.dirname(path))}", timeout_sec=60)
                    await environment.upload_file(file.name, path)
                finally:
                    os.unlink(file.name)
                mode = int(request.get("mode", 0o644))
                chmod = await environment.exec(f"chmod {mode:o} {shlex.quote(path)}", timeout_sec=60)
                if chmod.return_code != 0:
                    return {"id": rid, "error": f"chmod {mode:o} {path}: {chmod.stderr or chmod.stdout}"}
                return {"id": rid}
            return {"id": rid, "error": f"unknown op {request.get('op')!r}"}
        except Exception as error:  # the episode records it as an infrastructure error
            return {"id": rid, "error": f"{type(error).__name__}: {error}"}

    async def _stop(self, child: asyncio.subprocess.Process) -> None:
        """Harbor's agent timeout: the child ends its trace as agent_timeout, then goes."""
        if child.returncode is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), _STOP_GRACE_SEC)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            child.kill()

    def _fill(self, context: AgentContext) -> None:
        outcome = (self.finished or {}).get("outcome") or {}
        context.n_input_tokens = outcome.get("tokens_in")
        context.n_output_tokens = outcome.get("tokens_out")
        context.cost_usd = outcome.get("cost_usd")
        context.metadata = {
            "turns": outcome.get("turns"),
            "error_class": outcome.get("error_class"),
            "error_detail": outcome.get("error_detail"),
            "trace": (self.finished or {}).get("trace"),
        }
