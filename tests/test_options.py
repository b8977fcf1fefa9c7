"""PrepareOptions: one default per option, built once (argparse, app, session), checked once."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
from pathlib import Path

import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.options import PrepareOptions

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {f.name: f.default for f in dataclasses.fields(PrepareOptions)}

#: literal defaults of option-named parameters that are NOT the prepare options, each with why
ALLOWED = {
    ("explorer/data.py", "load_dataset", "text_col"): "the data layer's own API, below prepare",
    ("explorer/data.py", "load_dataset", "label_col"): "the data layer's own API, below prepare",
    ("explorer/data.py", "load_dataset", "drop_invalid"): "the data layer's own API",
    ("explorer/data.py", "from_frame", "text_col"): "the data layer's own API",
    ("explorer/data.py", "from_frame", "label_col"): "the data layer's own API",
    ("explorer/data.py", "from_frame", "drop_invalid"): "the data layer's own API",
    ("explorer/index_base.py", "__init__", "random_state"): "an index's own training seed",
    ("explorer/index.py", "__init__", "random_state"): "an approximate index's own training seed",
    ("explorer/projection.py", "project", "random_state"): "UMAP's own seed (prepare passes it)",
    ("explorer/projection.py", "place_by_neighbours", "random_state"): "the placement's jitter "
    "seed (project passes UMAP's)",
    ("explorer/synthetic.py", "make_pool", "random_state"): "the generator's own seed",
    ("explorer/prepare.py", "build_sample_vectors", "random_state"): "the shipped sample's build",
    ("explorer/ui/synthetic.py", "synthetic_prepared", "projection"): "another option: the "
    "layout ('umap' or 'generated'), not on/off",
    ("explorer/prepare.py", ".get", "index"): "Prepared.sources['index'], not the option",
    ("explorer/tasks.py", "binary_task", "random_state"): "a task's own test-split and cut "
    "seed, not UMAP's",
    ("explorer/tasks.py", "multi_minority_task", "random_state"): "a task's own test-split and "
    "cut seed, not UMAP's",
}


def respellings(path: Path, rel: str) -> list:
    """``(file, function or '.get' or 'argparse', option, literal)`` for every default of a
    prepare option spelled in ``path``: a parameter named like an option with a literal
    default, ``x.get("index", "auto")``, or ``add_argument("--index", default="auto")``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults))
            pairs += [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            out += [(rel, node.name, arg.arg, d.value) for arg, d in pairs
                    if arg.arg in DEFAULTS and isinstance(d, ast.Constant)
                    and d.value is not None]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get" and len(node.args) == 2:
                key, value = node.args
                if isinstance(key, ast.Constant) and key.value in DEFAULTS and \
                        isinstance(value, ast.Constant) and value.value is not None:
                    out.append((rel, ".get", key.value, value.value))
            elif node.func.attr == "add_argument":
                names = [x.value for x in node.args if isinstance(x, ast.Constant)
                         and isinstance(x.value, str) and x.value.startswith("--")]
                for kw in node.keywords:
                    if kw.arg == "default" and isinstance(kw.value, ast.Constant) and \
                            kw.value.value is not None:
                        out += [(rel, "argparse", n[2:].replace("-", "_"), kw.value.value)
                                for n in names if n[2:].replace("-", "_") in DEFAULTS]
    return out


def _library_files():
    files = sorted((ROOT / "explorer").rglob("*.py")) + sorted((ROOT / "apps").glob("*.py"))
    return [(p, p.relative_to(ROOT).as_posix()) for p in files if p.name != "options.py"]


def test_the_scanner_sees_a_respelled_default(tmp_path):
    # the "nothing changed" check: each of the three shapes the issue found is caught
    f = tmp_path / "x.py"
    f.write_text('def load(source, index="auto", *, text_col="text"):\n'
                 '    return spec.get("embeddings_dtype", "float32")\n'
                 'parser.add_argument("--index", default="auto")\n')
    found = {(what, name) for _, what, name, _ in respellings(f, "x.py")}
    assert found == {("load", "index"), ("load", "text_col"), (".get", "embeddings_dtype"),
                     ("argparse", "index")}


def test_every_default_is_spelled_only_in_prepare_options():
    found = [r for p, rel in _library_files() for r in respellings(p, rel)]
    stray = [r for r in found if (r[0], r[1], r[2]) not in ALLOWED]
    assert not stray, f"option defaults spelled outside PrepareOptions: {stray}"
    # the allow-list does not rot: every entry still names a real spelling
    assert {(r[0], r[1], r[2]) for r in found} == set(ALLOWED)


def test_entry_points_take_their_defaults_from_prepare_options():
    from explorer.cli_args import add_data_arguments
    from explorer.prepare import prepare
    from explorer.store import data_spec_of
    from explorer.ui.app import load_prepared, show
    from explorer.ui.synthetic import synthetic_prepared

    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    assert PrepareOptions.from_args(parser.parse_args(["x.csv"])) == PrepareOptions()
    for fn in (prepare, load_prepared, show, synthetic_prepared, data_spec_of):
        params = inspect.signature(fn).parameters
        assert params["options"].default is None, fn  # None: PrepareOptions()'s defaults
        assert not set(params) & (set(DEFAULTS) - {"projection"}), fn


def _args(argv, serve=False):
    parser = argparse.ArgumentParser()
    if serve:
        from explorer.ui.serving import add_arguments

        add_arguments(parser)
    else:
        from explorer.commands.prepare import add_arguments

        add_arguments(parser)
    return parser.parse_args(argv)


def test_from_args_reads_every_data_option():
    args = _args(["d.csv", "--text-col", "body", "--label-col", "tag", "--minority", "a", "b",
                  "--drop-invalid", "--cache-dir", "/tmp/c", "--embeddings", "v.npy",
                  "--index", "hnsw", "--embeddings-dtype", "float16", "--no-projection"])
    assert PrepareOptions.from_args(args) == PrepareOptions(
        text_col="body", label_col="tag", minority=("a", "b"), drop_invalid=True,
        cache_dir="/tmp/c", embeddings="v.npy", index="hnsw", embeddings_dtype="float16",
        projection=False)
    # a command that needs no map turns it off; a namespace without an option keeps the default
    assert PrepareOptions.from_args(_args(["d.csv"]), projection=False).projection is False
    assert PrepareOptions.from_args(argparse.Namespace(index="exact")) == \
        PrepareOptions(index="exact")


def test_serve_and_the_cli_build_the_same_options():
    from explorer.ui.serving import options_from_args

    argv = ["d.csv", "--minority", "spam", "--index", "exact", "--embeddings-dtype", "float16"]
    served = options_from_args(_args(argv, serve=True))["options"]
    assert served == PrepareOptions.from_args(_args(argv))
    assert served.minority == ("spam",) and served.index == "exact"


@pytest.mark.parametrize("bad, match", [
    (dict(index="faiss"), r"^index='faiss' is unknown; choose one of auto, exact, ivf, ivfpq, hnsw$"),
    (dict(embeddings_dtype="int8"), r"^embeddings dtype='int8' is unknown; use 'float32'"),
    (dict(text_col=""), r"^text_col='' must be a non-empty text$"),
    (dict(label_col=3), r"^label_col=3 must be a non-empty text$"),
    (dict(minority=[1]), r"^minority=\[1\] must be a class name or a list of class names; "
     "or None to infer"),
    (dict(drop_invalid="yes"), r"^drop_invalid='yes' must be True or False$"),
    (dict(projection=1), r"^projection=1 must be True or False$"),
    (dict(cache_dir=3), r"^cache_dir=3 must be a path \(text\) or None$"),
    (dict(embeddings=" "), r"^embeddings=' ' must be a path \(text\) or None$"),
    (dict(random_state=-1), r"^random_state=-1 must be an integer >= 0$"),
    (dict(partition_size=0), r"^partition_size=0 must be an integer >= 1$"),
    (dict(n_rows=5), r"^n_rows=5 is not an option of prepare; use one of text_col, label_col"),
])
def test_bad_values_name_the_option(bad, match):
    with pytest.raises(ParameterError, match=match) as err:
        PrepareOptions.of(**bad)
    assert err.value.param == next(iter(bad))  # the CLI names its option (--index=...)


def test_bad_options_object_and_immutability():
    with pytest.raises(ParameterError, match=r"^options='exact' must be a PrepareOptions, a "
                       "dict of options or None$"):
        PrepareOptions.of("exact")
    opts = PrepareOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.index = "exact"
    with pytest.raises(ParameterError, match="index='x' is unknown"):
        opts.replace(index="x")  # a copy is checked like a new object


def test_values_are_normalised_once():
    opts = PrepareOptions(minority="spam", cache_dir=Path("/tmp/c"),
                          embeddings_dtype=np.float16)
    assert (opts.minority, opts.cache_dir, opts.embeddings_dtype) == (("spam",), "/tmp/c",
                                                                      "float16")
    assert PrepareOptions(minority=[]).minority is None  # nothing given: inferred
    assert PrepareOptions.of(opts) is opts
    assert PrepareOptions.of({"index": "exact"}, index="hnsw").index == "hnsw"
    assert hash(opts) == hash(PrepareOptions.of(opts, index="auto"))  # a cache key


def test_spec_round_trip(tmp_path):
    opts = PrepareOptions(text_col="body", index="exact", embeddings_dtype="float16",
                          embeddings=str(tmp_path / "v.npy"))
    spec = {**opts.to_spec(), "minority": ["spam"], "drop_invalid": True, "source": "x"}
    back = PrepareOptions.from_spec(spec)
    assert back == opts.replace(minority=("spam",), drop_invalid=True)
    # a session saved before embeddings_dtype was stored reads as the default
    assert PrepareOptions.from_spec({"index": "ivf"}) == PrepareOptions(index="ivf")


def test_equal_options_share_one_cached_pool(monkeypatch):
    import explorer.prepare as prep
    from explorer.ui.app import load_prepared

    calls = []
    monkeypatch.setattr(prep, "prepare", lambda source, options, progress: calls.append(
        (source, options)) or object())
    a = load_prepared("options-cache-test.csv", index="exact")
    b = load_prepared("options-cache-test.csv", PrepareOptions(index="exact"))
    c = load_prepared("options-cache-test.csv", {"index": "hnsw"})
    assert a is b and a is not c
    assert calls == [("options-cache-test.csv", PrepareOptions(index="exact")),
                     ("options-cache-test.csv", PrepareOptions(index="hnsw"))]


def test_prepare_keywords_and_options_are_one_api():
    from explorer.prepare import prepare
    from explorer.ui.synthetic import synthetic_prepared

    with pytest.raises(ParameterError, match="^index='nope' is unknown"):
        prepare("sample", index="nope")
    with pytest.raises(ParameterError, match="^minority_rule='x' is not an option of prepare"):
        prepare("sample", PrepareOptions(), minority_rule="x")
    p = synthetic_prepared(600, PrepareOptions(index="exact", random_state=3), dim=8,
                           projection="generated")
    assert p.options == PrepareOptions(index="exact", random_state=3)
    assert p.index.explain().lower().startswith("exact")
    q = synthetic_prepared(600, dim=8, projection="generated", index="exact", random_state=3)
    assert np.array_equal(np.asarray(p.embeddings), np.asarray(q.embeddings))


def test_open_session_reads_the_manifest_and_checks_the_dataset_once(tmp_path, monkeypatch):
    import explorer.store as store
    import explorer.ui.sessions as sessions
    from explorer.ui.state import ExplorerState
    from explorer.ui.synthetic import synthetic_prepared

    pool = synthetic_prepared(1000, dim=8, minority_share=0.1, projection="generated")

    def state():
        st = ExplorerState(pool, filters=["anchoral"], subpool_size=200)
        st.source = "synthetic:1000"
        return st

    st = state()
    st.step()
    assert sessions.save_session(st, str(tmp_path / "s")), st.job.error
    st.close()
    assert store.read_manifest(tmp_path / "s")["dataset"]["index"] == pool.options.index
    reads, checks = [], []
    read_json, check_dataset = store.read_json, store.check_dataset
    monkeypatch.setattr(store, "read_json", lambda d, name, **kw: (
        reads.append(name), read_json(d, name, **kw))[1])
    spy = lambda *a, **kw: (checks.append(a[2] if len(a) > 2 else None), check_dataset(*a, **kw))
    monkeypatch.setattr(store, "check_dataset", spy)
    monkeypatch.setattr(sessions, "check_dataset", spy, raising=False)  # a second check there
    again = state()
    assert sessions.open_session(again, str(tmp_path / "s"), lambda cb: cb())
    again.wait()
    assert again.job.error == "" and again.n_done == 1
    assert reads.count("session.json") == 1 and len(checks) == 1
    again.close()
