"""The architecture rules that a reader relies on, checked from the source: no import cycles among the
modules of autograd, nn and optim (module-level and function-level imports alike), and the layers'
direction: optim -> nn -> autograd, with nn and optim reaching autograd only through its public
surface (the package itself, autograd.neural, autograd.serialization, autograd.dtypes, autograd.fp_errors)."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("autograd", "nn", "optim")
PUBLIC_ENGINE_MODULES = {"autograd", "autograd.neural", "autograd.serialization", "autograd.dtypes",
                         "autograd.fp_errors", "autograd.forward_ad", "autograd.functional"}


def _modules():
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[module[:-len(".__init__")] if module.endswith(".__init__") else module] = path
    return found


def _imports(modules):
    """module -> the modules of the three packages it imports (anywhere in its source)."""
    graph = {}
    for module, path in modules.items():
        is_package = path.endswith("__init__.py")
        targets = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = module.split(".")
                    parts = parts[:len(parts) - node.level + (1 if is_package else 0)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module
                names = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def test_no_import_cycles_among_submodules():
    modules = _modules()
    packages = {m for m, path in modules.items() if path.endswith("__init__.py")}
    # (a package's __init__ re-exports its parts: edges into it are not part of the layering)
    graph = {m: {t for t in targets if t not in packages} for m, targets in _imports(modules).items()
             if m not in packages}
    state, cycles = {}, []

    def visit(vertex, path):
        state[vertex] = "open"
        path.append(vertex)
        for target in graph.get(vertex, ()):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[vertex] = "done"

    for vertex in sorted(graph):
        if vertex not in state:
            visit(vertex, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_layers_point_one_way_and_use_the_engines_public_surface():
    wrong = []
    for module, targets in _imports(_modules()).items():
        layer = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if layer == "autograd" and other in ("nn", "optim") or layer == "nn" and other == "optim":
                wrong.append(f"{module} imports {target} (against optim -> nn -> autograd)")
            if layer in ("nn", "optim") and other == "autograd" and target not in PUBLIC_ENGINE_MODULES:
                wrong.append(f"{module} imports {target}, which is not part of autograd's public surface")
    assert not wrong, "\n".join(wrong)
