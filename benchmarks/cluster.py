"""Two (or more) app replicas on loopback behind nginx with sticky sessions.

    python -m benchmarks.cluster            # serves on http://127.0.0.1:8500 until Ctrl-C

The replicas are started exactly as ``make run`` starts the app (headless, on
free ports); nginx (Debian's package) proxies them with ``deploy/nginx.conf``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import ROOT, browser

NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def find_nginx() -> str | None:
    """Debian installs nginx in /usr/sbin, which is not on every PATH."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


class Cluster:
    def __init__(self, replicas: int = 2, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.replicas = [browser.AppServer(env=env) for _ in range(replicas)]
        self.port = port or browser.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = Path(tempfile.mkdtemp(prefix="playground-nginx-"))
        self.nginx: subprocess.Popen | None = None

    def start(self) -> Cluster:
        nginx = find_nginx()
        if nginx is None:
            raise RuntimeError("nginx is not installed: apt-get install nginx")
        for replica in self.replicas:
            replica.start()
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / sub).mkdir(exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{r.port};" for r in self.replicas)
        conf = (NGINX_CONF.read_text().replace("@@PREFIX@@", str(self.prefix))
                .replace("@@SERVERS@@", servers).replace("@@LISTEN@@", f"127.0.0.1:{self.port}")
                .replace("@@USER@@", "user root;" if os.geteuid() == 0 else ""))
        (self.prefix / "nginx.conf").write_text(conf)
        self.nginx = subprocess.Popen(
            [nginx, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"),
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"nginx did not answer; see {self.prefix}/error.log")

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.terminate()
            try:
                self.nginx.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
            self.nginx = None
        for replica in self.replicas:
            replica.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


@contextmanager
def running_cluster(replicas: int = 2, env: dict[str, str] | None = None):
    cluster = Cluster(replicas, env=env).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=8500)
    args = parser.parse_args()
    cluster = Cluster(args.replicas, args.port).start()
    print(f"{args.replicas} replicas behind nginx on {cluster.url} "
          f"(replicas on ports {[r.port for r in cluster.replicas]}); Ctrl-C stops all.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
