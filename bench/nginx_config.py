"""One nginx for case 2: Ostiary's generated snippet unchanged except for
certificate paths and the app's upstream, beside the same server block
whose auth_request nginx answers itself, and a backend that answers 200."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.proxies import NginxServer

_CHECK_LOCATION = re.compile(r"\tlocation = /_ostiary_check \{.*?\n\t\}", re.DOTALL)


def split_snippet(snippet: str) -> tuple[str, str]:
    marker = "# ---- part 2 of 2"
    head, sep, tail = snippet.partition(marker)
    if not sep:
        raise ValueError("the nginx snippet no longer has its two marked parts")
    return head, sep + tail


def http_block(snippet: str, *, app_host: str, app_port: int, floor_port: int, backend_port: int,
               cert: Path, key: Path, workdir: Path) -> str:
    part1, part2 = split_snippet(snippet)
    part2 = part2.replace(f"/etc/letsencrypt/live/{app_host}/fullchain.pem", str(cert))
    part2 = part2.replace(f"/etc/letsencrypt/live/{app_host}/privkey.pem", str(key))
    part2 = part2.replace("proxy_pass http://127.0.0.1:3000;", f"proxy_pass http://127.0.0.1:{backend_port};")
    if f"listen {app_port} ssl;" not in part2 or str(cert) not in part2 or str(backend_port) not in part2:
        raise ValueError("the nginx snippet changed shape; update bench/nginx_config.py")
    floor = part2.replace(f"listen {app_port} ssl;", f"listen {floor_port} ssl;")
    floor, n = _CHECK_LOCATION.subn("\tlocation = /_ostiary_check {\n\t\tinternal;\n\t\treturn 200;\n\t}", floor)
    if n != 1:
        raise ValueError("cannot find the check location in the nginx snippet")
    backend = (f"server {{\n\tlisten 127.0.0.1:{backend_port};\n\tlocation / {{ return 200 \"app\\n\"; }}\n}}\n")
    return f"access_log off;\n{part1}\n{part2}\n{FLOOR_MARK}\n{floor}\n{backend}"


FLOOR_MARK = "# the floor: nginx answers its own auth_request"


def shipped_copy(block: str, name: str, app_port: int, port: int, upstream_port: int | None = None) -> str:
    """The shipped server block and upstream of `block` (http_block's), under new names, on `port`,
    and with Ostiary's upstream on `upstream_port` when given: a second protected site beside it."""
    shipped = block.split(FLOOR_MARK)[0].removeprefix("access_log off;\n")
    text = shipped.replace("ostiary_app_", f"ostiary_{name}_").replace(f"listen {app_port} ssl;",
                                                                       f"listen {port} ssl;")
    if upstream_port is not None:
        text = re.sub(r"server 127\.0\.0\.1:\d+;", f"server 127.0.0.1:{upstream_port};", text, count=1)
    if text.count(f"ostiary_{name}_upstream") < 2 or f"listen {port} ssl;" not in text:
        raise ValueError("the nginx snippet changed shape; update bench/nginx_config.py")
    return text


class BenchNginx(NginxServer):
    """tests/support's nginx with room for the benchmark's connections and no access log."""

    def __init__(self, block: str, ports, workdir: Path):
        super().__init__(block, ports=ports, workdir=workdir)
        text = self.config_path.read_text()
        text = text.replace("worker_connections 256;", "worker_connections 4096;")
        text = re.sub(r"\taccess_log [^;]*;\n", "", text, count=1)
        self.config_path.write_text(text)
