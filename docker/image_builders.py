"""docker/image_test.py's builders: the image built from the Dockerfile and containers run from it,
with docker where an engine answers, else with buildah, FROM $PYTHON_IMAGE or the shared
base-image tool's stand-in (CONTAINER_BUILDER chooses instead of detecting).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from image_host import CheckFailed, gunicorn_split, pid_alive, process_descendants, signal_send

# The build context (docker/image_figures.py points it at another tree).
PROJECT_DIR = Path(__file__).resolve().parent.parent
BASE_IMAGE_TOOL = PROJECT_DIR.parent / "shared" / "tools" / "python-base-image"
OFFICIAL_BASE_IMAGE = "python:3.11-slim-bookworm"
STOP_TIMEOUT_SECONDS = 30


class Builder:
    """Builds the image and runs containers from it. With docker each one-off command is a fresh
    `docker run` and the server a named container; with buildah each runs in a working container
    that carries the settings, and the server's commands run in the same one."""

    name: str

    def __init__(self, image: str, log_path: Path):
        self.image = image
        self.log_path = log_path
        self.server: subprocess.Popen | None = None

    def build(self, base_image: str) -> None:
        raise NotImplementedError

    def size(self) -> str:
        raise NotImplementedError

    def config(self) -> dict:
        """The image's Docker config: Entrypoint, Cmd, Healthcheck, Env, User."""
        raise NotImplementedError

    def run(self, env: dict[str, str], argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        """A one-off command (argv[0] replaces the entrypoint) with exactly these settings added."""
        raise NotImplementedError

    def start(self, env: dict[str, str]) -> None:
        """The image's own entrypoint and command, in the background, logging to log_path (afresh)."""
        raise NotImplementedError

    def exec(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        """A command beside the running server, with its settings."""
        raise NotImplementedError

    def processes(self) -> list[dict]:
        """The server's processes: pid, ppid, uid and command line of each."""
        raise NotImplementedError

    def terminate(self) -> None:
        """Send the server SIGTERM, as ECS does to stop a task."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Stop whatever still runs and remove every container made."""
        raise NotImplementedError

    def server_exited(self) -> bool:
        return self.server is not None and self.server.poll() is not None

    def wait_server(self, timeout: float) -> int | None:
        """The server's exit status, or None when it is still running after timeout seconds."""
        try:
            return self.server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


class Docker(Builder):
    name = "docker"

    def __init__(self, image: str, log_path: Path):
        super().__init__(image, log_path)
        self.starts = 0
        self.container = f"image-test-{os.getpid()}"

    def build(self, base_image: str) -> None:
        command(["docker", "build", "--build-arg", f"PYTHON_IMAGE={base_image}", "--tag", self.image, "."])

    def size(self) -> str:
        size = int(output(["docker", "image", "inspect", "--format", "{{.Size}}", self.image]))
        return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"

    def config(self) -> dict:
        return json.loads(output(["docker", "image", "inspect", self.image]))[0]["Config"]

    def run(self, env, argv, timeout):
        return subprocess.run(
            ["docker", "run", "--rm", "--network", "host", *env_options(env), "--entrypoint", argv[0], self.image, *argv[1:]],
            capture_output=True, text=True, timeout=timeout,
        )

    def start(self, env):
        self.starts += 1
        self.container = f"image-test-{os.getpid()}-{self.starts}"
        with self.log_path.open("w") as log:
            self.server = subprocess.Popen(
                ["docker", "run", "--rm", "--name", self.container, "--network", "host", *env_options(env), self.image],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def exec(self, argv, timeout):
        return subprocess.run(["docker", "exec", self.container, *argv], capture_output=True, text=True, timeout=timeout)

    def processes(self):
        lines = output(["docker", "top", self.container, "-eo", "pid,ppid,uid,args"]).splitlines()[1:]
        return [
            {"pid": int(pid), "ppid": int(ppid), "uid": int(uid), "cmdline": args}
            for pid, ppid, uid, args in (line.split(None, 3) for line in lines)
        ]

    def terminate(self):
        subprocess.run(["docker", "kill", "--signal", "TERM", self.container], capture_output=True)

    def cleanup(self):
        if self.server is not None:
            subprocess.run(["docker", "rm", "--force", self.container], capture_output=True)
            self.wait_server(STOP_TIMEOUT_SECONDS)


class Buildah(Builder):
    name = "buildah"

    def __init__(self, image: str, log_path: Path):
        super().__init__(image, log_path)
        self.containers: list[str] = []
        self.server_container: str | None = None

    def build(self, base_image: str) -> None:
        command([
            "buildah", "bud", "--isolation", "chroot", "--network", "host", "--format", "docker", "--layers", "--force-rm",
            "--build-arg", f"PYTHON_IMAGE={base_image}", "--tag", self.image, ".",
        ])

    def size(self) -> str:
        return output(["buildah", "images", "--format", "{{.Size}}", self.image]).splitlines()[0]

    def config(self) -> dict:
        return json.loads(output(["buildah", "inspect", "--type", "image", self.image]))["Docker"]["config"]

    def container_create(self, env: dict[str, str]) -> str:
        container = output(["buildah", "from", "--pull-never", self.image]).strip()
        self.containers.append(container)
        if env:
            output(["buildah", "config", *env_options(env), container])
        return container

    def container_run(self, container: str, argv: list[str]) -> list[str]:
        return ["buildah", "run", "--isolation", "chroot", "--network", "host", container, "--", *argv]

    def container_remove(self, container: str) -> None:
        subprocess.run(["buildah", "rm", container], capture_output=True)
        self.containers.remove(container)

    def run(self, env, argv, timeout):
        container = self.container_create(env)
        try:
            return subprocess.run(self.container_run(container, argv), capture_output=True, text=True, timeout=timeout)
        finally:
            self.container_remove(container)

    def start(self, env):
        self.server_container = self.container_create(env)
        config = self.config()
        argv = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
        with self.log_path.open("w") as log:
            self.server = subprocess.Popen(self.container_run(self.server_container, argv), stdout=log, stderr=subprocess.STDOUT)

    def exec(self, argv, timeout):
        return subprocess.run(self.container_run(self.server_container, argv), capture_output=True, text=True, timeout=timeout)

    def processes(self):
        # buildah's chroot isolation runs the command as descendants of `buildah run` on this host.
        return process_descendants(self.server.pid)

    def terminate(self):
        # The container's main process is the gunicorn master (the entrypoint and start exec it).
        # `buildah run` does not pass SIGTERM on (it kills the command), so the master gets it directly.
        masters, _ = gunicorn_split(self.processes())
        for pid in [p["pid"] for p in masters] or [self.server.pid]:
            signal_send(pid, signal.SIGTERM)

    def cleanup(self):
        if self.server is not None and self.server.poll() is None:
            pids = [p["pid"] for p in self.processes()] + [self.server.pid]
            for pid in pids:
                signal_send(pid, signal.SIGTERM)
            if self.wait_server(STOP_TIMEOUT_SECONDS) is None or any(pid_alive(pid) for pid in pids):
                for pid in pids:
                    signal_send(pid, signal.SIGKILL)
                self.wait_server(5)
        for container in list(self.containers):
            self.container_remove(container)


def builder_choose(image: str, log_path: Path) -> Builder:
    choice = os.environ.get("CONTAINER_BUILDER")
    if not choice:
        if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0:
            choice = "docker"
        elif shutil.which("buildah") or os.access(BASE_IMAGE_TOOL, os.X_OK):
            choice = "buildah"
        else:
            raise CheckFailed("no container builder: install docker (with a running engine) or buildah")
    builders = {"docker": Docker, "buildah": Buildah}
    if choice not in builders:
        raise CheckFailed(f"CONTAINER_BUILDER must be docker or buildah, not {choice!r}")
    return builders[choice](image, log_path)


def base_image_choose(builder: Builder) -> str:
    """$PYTHON_IMAGE; else, with buildah, the shared tool's stand-in (it installs buildah where missing)."""
    if os.environ.get("PYTHON_IMAGE"):
        return os.environ["PYTHON_IMAGE"]
    if builder.name == "buildah" and os.access(BASE_IMAGE_TOOL, os.X_OK):
        # Its progress goes to stderr, shown; the image's name is the last line of its output.
        result = subprocess.run([str(BASE_IMAGE_TOOL)], stdout=subprocess.PIPE, text=True)
        if result.returncode != 0 or not result.stdout.strip():
            raise CheckFailed(f"{BASE_IMAGE_TOOL} failed (exit status {result.returncode}; its output is above)")
        return result.stdout.strip().splitlines()[-1]
    return OFFICIAL_BASE_IMAGE


# --- The builders' commands --------------------------------------------------------------------


def command(argv: list[str]) -> None:
    """Run a build step in the project directory, its output shown as it comes."""
    if subprocess.run(argv, cwd=PROJECT_DIR).returncode != 0:
        raise CheckFailed(f"`{' '.join(argv[:2])}` failed (its output is above)")


def output(argv: list[str], timeout: float = 120) -> str:
    """The standard output of a command that must succeed."""
    try:
        result = subprocess.run(argv, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise CheckFailed(f"{argv[0]} is not installed") from exc
    if result.returncode != 0:
        raise CheckFailed(f"`{' '.join(argv)}` exited with {result.returncode}: {result.stderr.strip()[-1000:]}")
    return result.stdout


def env_options(env: dict[str, str]) -> list[str]:
    return [f"--env={key}={value}" for key, value in env.items()]
