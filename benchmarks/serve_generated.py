"""``anchoral serve ARGS`` with the synthetic pool's own 2-D layout (no UMAP) for ``synthetic:N``.

    PYTHONPATH=CHECKOUT python benchmarks/serve_generated.py synthetic:1000000 --cache-dir DIR

The serve path builds a synthetic pool with UMAP coordinates (about 36 min of CPU at 1M rows);
a map benchmark needs a map, not that layout, so this launcher makes the generator's layout
(:data:`explorer.ui.synthetic.PROJECTIONS` ``"generated"``) the default, then runs the CLI. It
works on any checkout that has that option (the code under test comes from ``PYTHONPATH``).
"""

import sys

from explorer.ui import synthetic

synthetic.synthetic_prepared.__kwdefaults__["projection"] = "generated"

if __name__ == "__main__":
    from explorer.cli import main

    sys.exit(main(sys.argv[1:]))
