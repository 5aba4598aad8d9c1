"""The layers meet at public names only (the shape in the README's layout): a layer
imports no private module or name of another, and nothing but the core's selection
point imports an implementation. Read from the source, so a new private import fails
here before it spreads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import fastws

PACKAGE = Path(fastws.__file__).resolve().parent


def imports_of(path: Path) -> Iterator[Tuple[str, str, int]]:
    """``(module, name, line)`` for every name ``path`` imports, modules absolute."""
    package = ".".join(("fastws",) + path.relative_to(PACKAGE).parent.parts)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                yield module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, "", node.lineno


def foreign_private_imports(layer: str) -> List[str]:
    """Imports by ``fastws.<layer>`` of a private module or name outside the layer."""
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for module, name, line in imports_of(path):
            if not module.startswith("fastws") or module.startswith(f"fastws.{layer}"):
                continue
            private_module = any(part.startswith("_") for part in module.split(".")[1:])
            if private_module or name.startswith("_"):
                found.append(f"{path.relative_to(PACKAGE)}:{line}: {module} {name}".rstrip())
    return found


@pytest.mark.parametrize("layer", ["protocol", "aio"])
def test_a_layer_imports_only_public_names_of_the_layers_below(layer: str) -> None:
    assert foreign_private_imports(layer) == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    # The checker itself: a private import in a module of the layer is reported.
    probe = PACKAGE / "aio" / "_layer_probe.py"
    probe.write_text("from .. import _impl\nfrom ..protocol._connection import Connection\n", encoding="utf-8")
    try:
        assert foreign_private_imports("aio") == [
            "aio/_layer_probe.py:1: fastws _impl",
            "aio/_layer_probe.py:2: fastws.protocol._connection Connection",
        ]
    finally:
        probe.unlink()


def test_aio_reads_no_private_attribute_of_the_protocol_and_writes_no_frame() -> None:
    for path in sorted((PACKAGE / "aio").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        # The protocol connection is ``_proto``: only its public names are used.
        assert "_proto._" not in text and "._core" not in text, path
        # Frames are written by the protocol layer alone.
        assert "encode_frame" not in text and "struct" not in text, path


def test_the_protocol_imports_neither_asyncio_nor_socket() -> None:
    code = "import sys, fastws.protocol; bad = {'asyncio', 'socket'} & set(sys.modules); assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)
    for path in sorted((PACKAGE / "protocol").glob("*.py")):
        modules = {module for module, _, _ in imports_of(path)}
        assert not modules & {"asyncio", "socket"}, path
