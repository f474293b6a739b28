"""The package's layers import one way: a sub-package imports only those below it; only viz draws; only runio
names a Keras backend."""

import ast
from pathlib import Path

import dolphin_ae

PACKAGE = Path(dolphin_ae.__file__).resolve().parent
# Lowest first. The core modules may import each other; everything else only what sits below it.
LAYERS = ["exceptions", "constants", "layout", "runio", "engine", "audio", "data", "models", "train", "analysis", "field",
          "viz", "book", "cli"]
CORE = {"exceptions", "constants", "layout", "runio", "engine"}
DRAWING = ("matplotlib", "seaborn")
# The Keras backends' own packages. Models, losses and training use keras and keras.ops alone, so every
# backend runs them; only runio imports these, to list the devices the backend sees.
BACKENDS = ("tensorflow", "tf_keras", "jax", "jaxlib", "torch")


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _layer(relative):
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def test_every_module_belongs_to_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer = _layer(path.relative_to(PACKAGE))
        assert layer in LAYERS or layer in ("__init__", "__main__"), f"{path}: in no layer of {LAYERS}"


def test_imports_flow_down_the_layers_and_only_viz_draws():
    upward, drawing = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        layer = _layer(relative)
        if layer not in LAYERS:
            continue
        for module in _imports(path):
            if module.split(".")[0] in DRAWING and layer not in ("viz", "book"):
                drawing.append(f"{relative} imports {module}")
            parts = module.split(".")
            if parts[0] != "dolphin_ae" or len(parts) < 2 or parts[1] not in LAYERS:
                continue
            target = parts[1]
            if layer in CORE and target in CORE:
                continue
            if LAYERS.index(target) > LAYERS.index(layer):
                upward.append(f"{relative} imports {module}")
    assert not upward, upward
    assert not drawing, drawing


def test_no_module_is_much_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 420}
    assert not long, long


def test_only_runio_imports_a_backend():
    found = [f"{path.relative_to(PACKAGE)} imports {module}" for path in sorted(PACKAGE.rglob("*.py"))
             if path.relative_to(PACKAGE) != Path("runio.py")
             for module in _imports(path) if module.split(".")[0] in BACKENDS]
    assert not found, found
