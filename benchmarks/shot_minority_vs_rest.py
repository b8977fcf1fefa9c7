"""Screenshot of the minority-vs-rest map on a 45-class pool (10 rare classes), after 2 rounds.

``python benchmarks/shot_minority_vs_rest.py docs/img/map-minority-vs-rest.png``: a generated
20,000-row pool (45 classes in 2-D blobs, 10 of them 15 rows each), the app served in-process,
two Steps of AnchorAL, the map saved. Needs /usr/bin/chromium (Playwright).
"""
import re
import socket
import sys
import time

import numpy as np
import pandas as pd
import panel as pn
from playwright.sync_api import expect, sync_playwright

from explorer.data import from_frame
from explorer.index import build_index
from explorer.prepare import Prepared
from explorer.ui.app import ExplorerApp


def main(path):
    rng = np.random.default_rng(0)
    n_classes, n_min, n = 45, 10, 20000
    rest = n_classes - n_min
    sizes = np.r_[np.full(n_min, 15), rng.multinomial(n - 15 * n_min, np.ones(rest) / rest)]
    cls = np.repeat(np.arange(n_classes), sizes)
    centres = rng.normal(size=(n_classes, 16)) * 2.0
    X = (centres[cls] + rng.normal(size=(n, 16))).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    c2 = rng.uniform(-10, 10, size=(n_classes, 2))
    coords = (c2[cls] + rng.normal(size=(n, 2)) * 0.9).astype(np.float32)
    ds = from_frame(pd.DataFrame({"text": [f"row {i}" for i in range(n)],
                                  "label": [f"class{c:02d}" for c in cls]}),
                    minority=[f"class{c:02d}" for c in range(n_min)], name="many-45")
    p = Prepared(dataset=ds, embeddings=X, coords=coords, index=build_index(X, "exact"),
                 cache_dir=None)
    pn.extension("tabulator", notifications=False, sizing_mode="stretch_width")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def app():
        return ExplorerApp(p, dataset="many-45", datasets=["many-45"],
                           filters=["anchoral"]).template()

    server = pn.serve({"many": app}, port=port, address="127.0.0.1",
                      websocket_origin=f"127.0.0.1:{port}",
                      show=False, threaded=True, start=True)
    time.sleep(3)  # the threaded server starting
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        pg = b.new_context(viewport={"width": 1500, "height": 1300}).new_page()
        pg.set_default_timeout(240_000)
        expect.set_options(timeout=240_000)
        pg.goto(f"http://127.0.0.1:{port}/many")
        expect(pg.get_by_role("button", name="Step")).to_be_enabled()
        for k in (1, 2):
            pg.get_by_role("button", name="Step").click()
            expect(pg.get_by_text(re.compile(rf"round {k} of {k}$"))).to_be_visible()
        time.sleep(4)  # a screenshot script, not a test: let the raster land
        pg.locator(".anchoral-map").first.screenshot(path=path)
        b.close()
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1])
