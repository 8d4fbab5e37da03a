"""Contract: the package's layers import only downward, and no `_private` name crosses a module.

    base      errors, constants, io, device, distributed, hub, config and presets (the settings: plain data), fingerprint
    data      data/, text/, parsing/          (no cycle between the three)
    model     model/
    retrieval retrieval/ (evaluate, fusion, metrics, stats, index, search), rogle/ (RSM, local protocol)
    training  training/ (loop, inputs, optim, run folder, checkpoint, epoch selection), pretrain/
    repro     repro/ (scenarios, workspace, reproduce, summary, paper, bench, verify, plots, sweep)
    cli       cli/, __main__
and on top the public API, glalign/__init__ (lazy: nothing in the package imports it).

A module may import its own layer and those below. Old import paths kept for users are one-line
re-exports (a module of only imports and `__all__`, or a module alias); package code never imports
them. There is no exception list: the move that this test was written for has landed."""
import ast
import functools
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "glalign"

LAYERS = {  # module prefix -> layer rank (the longest matching prefix decides)
    "glalign.errors": 0, "glalign.constants": 0, "glalign.io": 0, "glalign.device": 0, "glalign.distributed": 0,
    "glalign.hub": 0, "glalign.config": 0, "glalign.presets": 0, "glalign.fingerprint": 0,
    "glalign.data": 1, "glalign.text": 1, "glalign.parsing": 1,
    "glalign.model": 2,
    "glalign.retrieval": 3, "glalign.evaluate": 3, "glalign.metrics": 3, "glalign.stats": 3,
    "glalign.index": 3, "glalign.search": 3, "glalign.rogle": 3, "glalign.rsm": 3, "glalign.local_protocol": 3,
    "glalign.training": 4, "glalign.selection": 4, "glalign.train": 4, "glalign.checkpoint": 4, "glalign.pretrain": 4,
    "glalign.repro": 5, "glalign.scenarios": 5, "glalign.reproduce": 5, "glalign.summary": 5, "glalign.paper": 5,
    "glalign.bench": 5, "glalign.verify": 5, "glalign.plots": 5, "glalign.sweep": 5,
    "glalign.cli": 6, "glalign.__main__": 6,
    "glalign": 7, "glalign.api": 7,  # the public API (glalign/__init__.py and what it loads lazily)
}
NAMES = {0: "base", 1: "data", 2: "model", 3: "retrieval", 4: "training", 5: "repro", 6: "cli", 7: "api"}



def _modules(pkg: Path = PKG) -> dict[str, Path]:
    out = {}
    for path in sorted(pkg.rglob("*.py")):
        parts = path.relative_to(pkg.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or (p != "glalign" and module.startswith(p + "."))), key=len,
               default=None)
    if best is None:
        raise AssertionError(f"{module} has no layer: add its prefix to LAYERS in tests/test_layering.py")
    return LAYERS[best]


def _owner(name: str, mods: dict) -> str:
    """The module that defines dotted `name` (a module itself, or the module holding the attribute)."""
    while name not in mods and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _alias(node) -> bool:
    """`sys.modules[__name__] = module`: the old path is the new module itself."""
    return (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript)
            and ast.unparse(node.targets[0]) == "sys.modules[__name__]")


def is_shim(module: str, mods: dict | None = None) -> bool:
    """A compatibility re-export: nothing but a docstring, imports, __all__ and a module alias."""
    body = parse((mods or MODULES)[module]).body
    rest = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom)) and not _alias(n)
            and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            and not (isinstance(n, ast.Assign) and [getattr(t, "id", "") for t in n.targets] == ["__all__"])]
    return module != "glalign" and not rest and any(isinstance(n, ast.ImportFrom) for n in body)


@functools.lru_cache(maxsize=None)
def _tree(path: Path, mtime_ns: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def parse(path: Path) -> ast.Module:
    return _tree(path, path.stat().st_mtime_ns)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def imports(module: str, mods: dict | None = None):
    """(imported module, name or None, line) for every glalign import of `module`, lazy ones too, and
    (module, attribute, line) for `alias._private` on a glalign module bound by an import."""
    mods = mods or MODULES
    path = mods[module]
    tree = parse(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "glalign":
                    aliases[a.asname or a.name] = a.name
                    yield a.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.split(".")[0] != "glalign":
                continue
            for a in node.names:
                full = f"{base}.{a.name}"
                if full in mods:
                    aliases[a.asname or a.name] = full
                    yield full, None, node.lineno
                else:
                    yield base, a.name, node.lineno
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and _private(node.attr)):
            yield aliases[node.value.id], node.attr, node.lineno


def violations(mods: dict | None = None) -> list[tuple[str, str, str]]:
    """(importer, imported, why) for every import against the layering."""
    mods, out = mods or MODULES, []
    for module in mods:
        if module == "glalign" or is_shim(module, mods):
            continue
        where = lambda line: f"{mods[module].relative_to(mods['glalign'].parent.parent)}:{line}"  # noqa: E731
        for target, name, line in imports(module, mods):
            owner = _owner(target if name is None else f"{target}.{name}", mods)
            what = owner if name is None or owner != target else f"{target}.{name}"
            if owner == module:
                continue
            if layer(owner) > layer(module):
                out.append((module, what, f"{where(line)}: {NAMES[layer(module)]} imports {NAMES[layer(owner)]}"
                                          f" ({what})"))
            elif owner != "glalign" and is_shim(owner, mods):
                out.append((module, what, f"{where(line)}: imports the compatibility re-export {owner}; import "
                                          "from where it lives"))
            if name is not None and _private(name):
                out.append((module, f"{target}.{name}", f"{where(line)}: private name {name} crosses from {target}"))
    return out


def package_cycles() -> list[list[str]]:
    """Groups of top-level packages/modules that import each other in a ring (strongly connected
    components of the package graph, more than one member), e.g. data <-> parsing."""
    top = lambda m: ".".join(m.split(".")[:2])  # noqa: E731
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        if module == "glalign" or is_shim(module):
            continue
        for target, name, _ in imports(module):
            a, b = top(module), top(_owner(target if name is None else f"{target}.{name}", MODULES))
            graph.setdefault(a, set())
            if a != b and b != "glalign":
                graph[a].add(b)
                graph.setdefault(b, set())
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_layer():
    for module in MODULES:
        layer(module)


def test_layers_import_only_downward():
    found = sorted(why for _, _, why in violations())
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_no_cycle_between_packages():
    assert not package_cycles(), f"package import cycles: {package_cycles()}"


def test_the_checker_sees_an_upward_a_private_and_a_shim_import(tmp_path):
    """The rules fire: a data module importing the CLI, a private name taken from another module,
    and package code importing a compatibility re-export."""
    fake = tmp_path / "glalign"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "cli.py").write_text("from glalign.metrics import rank_metrics\n\nmain = rank_metrics\n")
    (fake / "metrics.py").write_text('"""The old path."""\nfrom glalign.retrieval import rank_metrics\n')
    (fake / "retrieval.py").write_text("def rank_metrics():\n    pass\n")
    (fake / "data" / "__init__.py").write_text("")
    (fake / "data" / "x.py").write_text("from glalign.cli import main\nfrom glalign.data.y import _hidden\n\nx = main\n")
    (fake / "data" / "y.py").write_text("_hidden = 1\n")
    whys = [why for _, _, why in violations(_modules(fake))]
    assert any("x.py:1: data imports cli" in w for w in whys), whys
    assert any("x.py:2: private name _hidden" in w for w in whys), whys
    assert any("cli.py:1: imports the compatibility re-export glalign.metrics" in w for w in whys), whys
    assert len(whys) == 3, whys
