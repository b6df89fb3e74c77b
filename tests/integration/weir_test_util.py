"""Helpers shared by the integration tests: run the real weir binary with a bounded time."""
import os
import subprocess

SOURCE_DIR = os.environ["WEIR_SOURCE_DIR"]
WEIR = os.environ["WEIR_BINARY"]


def weir(*args, env=None, timeout=60, cwd=None):
    """Runs weir with args; returns (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([WEIR, *args], capture_output=True, text=True, timeout=timeout,
                       env=full_env, cwd=cwd or SOURCE_DIR)
    return p.returncode, p.stdout, p.stderr


def source(*parts):
    return os.path.join(SOURCE_DIR, *parts)
