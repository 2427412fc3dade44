"""Check the layering contract in pyproject.toml ([tool.pynq-mnist.layers]).

Every ``pynq_mnist`` module, found through setup.py's folder map, may import only
modules of its own layer or of the layers below it; imports inside functions count
as much as those at the top. ``make lint`` runs this; it prints each violation as
``file:line: importer imports imported (layer -> higher layer)`` and exits 1.

Usage: python .ci/check_layers.py [REPO_ROOT]
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib


def folder_map(root: Path) -> dict[str, Path]:
    """setup.py's ``FOLDERS``: package name -> folder (read, not imported)."""
    text = (root / "setup.py").read_text()
    start = text.index("FOLDERS = {")
    scope: dict = {}
    exec(text[start : text.index("}", start) + 1], scope)
    return {package: root / folder for package, folder in scope["FOLDERS"].items()}


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    """Every module of the distribution as ``(dotted name, file)``."""
    folders = folder_map(root)
    for package, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            # a sub-folder mapped to a package of its own is that package's
            if any(
                other != package and other.startswith(package + ".") and path.is_relative_to(f)
                for other, f in folders.items()
            ):
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            yield ".".join([package, *parts]), path


def imports(name: str, path: Path) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for each import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:  # `from pkg import module` imports the module
                yield node.lineno, f"{base}.{alias.name}"


def layer_of(module: str, layers: list[dict], outside: list[str]) -> int | None:
    """The index of ``module``'s layer (0 is the top), or None for modules outside."""
    best, index = "", None
    for i, layer in enumerate(layers):
        for member in layer["modules"]:
            if (module == member or module.startswith(member + ".")) and len(member) > len(best):
                best, index = member, i
    if index is None and module not in outside:
        raise SystemExit(f"{module} is in no layer of pyproject.toml [tool.pynq-mnist.layers]")
    return index


def violations(root: Path) -> list[str]:
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pynq-mnist"]["layers"]
    layers, outside = config["layers"], config["outside"]
    found = []
    for name, path in modules(root):
        mine = layer_of(name, layers, outside)
        if mine is None:
            continue
        for line, imported in imports(name, path):
            if imported != "pynq_mnist" and not imported.startswith("pynq_mnist."):
                continue
            if imported in outside or imported.rpartition(".")[0] in outside:
                theirs = None if imported in outside else layer_of(imported, layers, outside)
            else:
                theirs = layer_of(imported, layers, outside)
            if theirs is not None and theirs < mine:
                where = path.relative_to(root)
                found.append(
                    f"{where}:{line}: {name} imports {imported} "
                    f"({layers[mine]['name']} -> {layers[theirs]['name']}, a layer above it)"
                )
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else Path(__file__).resolve().parents[1])
    found = violations(root)
    for line in found:
        print(line)
    print(f"layers: {len(found)} violation(s)" if found else "layers: the contract holds")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
