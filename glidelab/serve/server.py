"""Start the workbench on a Bokeh server (through Panel), offline.

Every script, style and font the page uses is served by this server from the installed
``bokeh`` and ``panel`` packages (``BOKEH_RESOURCES=server``, Panel's ``inline`` off and
no template that pulls web fonts), so the page works with no network. It binds to
127.0.0.1 unless told otherwise; the app has no authentication.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path

from backtest.errors import GlidelabError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    study: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 5006,
    out_root: str | Path = "results/serve",
    show: bool = False,
    quiet: bool = False,
) -> None:
    """Serve the workbench until interrupted.

    Parameters
    ----------
    study
        Study file the sessions start from (``None``: the built-in default study).
    host, port
        Address to bind; any host but the loopback prints a warning.
    out_root
        Folder for tear sheets written from the page; served read-only under
        ``/tearsheets/`` so the page can link what it wrote.
    show
        Open the system's browser on the page.
    quiet
        Print neither the address nor "stopped" (warnings still print).
    """
    os.environ.setdefault("BOKEH_RESOURCES", "server")
    try:
        import panel as pn  # lazy: optional extra (serve)
    except ImportError:
        raise GlidelabError(
            "glidelab serve needs Panel; install the serve extra: "
            "pip install 'glidelab[serve]'  (in a checkout: pip install -e '.[serve]')"
        ) from None

    from glidelab.serve.app import (  # lazy: optional extra (serve)
        TEARSHEET_ROUTE,
        create_app,
    )
    from glidelab.serve.state import read_template  # lazy: heavy, off the start-up path

    template = read_template(study)  # a bad study file fails here, before serving
    _check_free(host, port)
    if host not in LOOPBACK:
        print(
            f"glidelab serve: warning: binding {host}: the app has no authentication; anyone "
            "who can reach this address can use it and write files on this machine",
            file=sys.stderr,
        )
    logging.getLogger("glidelab.serve").setLevel(logging.INFO)
    origins = [f"{h}:{port}" for h in ("127.0.0.1", "localhost")] + [f"{host}:{port}"]
    if not quiet:
        print(
            f"glidelab serve: http://{host}:{port}/ (Ctrl-C stops it)", file=sys.stderr, flush=True
        )

    out = Path(out_root).resolve()
    out.mkdir(parents=True, exist_ok=True)  # served: the page links the tear sheets it writes

    def session() -> pn.viewable.Viewable:  # one call per browser session
        return create_app(template, out)

    try:
        pn.serve(
            {"/": session},
            address=host,
            port=port,
            show=show,
            title="glidelab workbench",
            websocket_origin=sorted(set(origins)),
            start=True,
            num_procs=1,
            static_dirs={TEARSHEET_ROUTE: str(out)},
        )
    except KeyboardInterrupt:  # Ctrl-C: a normal way to stop
        if not quiet:
            print("glidelab serve: stopped", file=sys.stderr)
    except OSError as exc:  # the address is taken or cannot be bound
        raise GlidelabError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
            "or --host"
        ) from None


def _check_free(host: str, port: int) -> None:
    """Fail with a one-line error when ``host:port`` cannot be bound (taken, or not an
    address of this machine), before the server starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise GlidelabError(f"--host {host!r} is not an address here ({exc})") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise GlidelabError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another "
                "--port or --host"
            ) from None
