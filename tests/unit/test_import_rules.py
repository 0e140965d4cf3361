"""The layers of the code, checked on the real import graph (grimp builds it from the sources at
each run, so an import added anywhere is judged).

Layers, from the top:

1. The composition root: ``mmmfed.cli`` (and ``mmmfed.__main__``, which only runs it). It wires
   nodes together and may import anything.
2. The nodes: ``instance`` (the reference M-Instance), ``gateway`` and ``bridge``. Each is its own
   program: none imports another.
3. ``certs``: the trust-domain PKI library (CA, node and operator certificates). Nodes and the
   composition root use it; it builds on the kernel (``mmmfed.errors``, ``mmmfed.trust``) and
   imports no node and not the composition root. The kernel does not import it, so the two
   packages depend one way.
4. The kernel: the rest of ``mmmfed`` (Items, proofs, trust, audit, store, config, RPC plumbing).
   It imports no node, not ``certs`` and not the composition root.

And no import cycles among modules of hand-written code (the generated ``mmmfed.api`` is left
out: ``scripts/gen_protos.py`` writes it).

Every import counts: at module level, inside functions, and under ``if TYPE_CHECKING:`` (a type
named from another layer is a dependency on that layer even if it is never imported at run time).
Each failure names the importing module, the line and the import chain.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator

import grimp
import pytest

NODES = ("instance", "gateway", "bridge")
CERTS = "certs"
KERNEL_PACKAGE = "mmmfed"
COMPOSITION_ROOT = ("mmmfed.cli", "mmmfed.__main__")
GENERATED = ("mmmfed.api",)
PACKAGES = (KERNEL_PACKAGE, *NODES, CERTS)


@functools.cache
def graph() -> grimp.ImportGraph:
    """The import graph of the hand-written packages, TYPE_CHECKING imports included, no cache."""
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)


def within(module: str, packages: Iterable[str]) -> bool:
    """True if ``module`` is one of ``packages`` or inside one."""
    return any(module == p or module.startswith(p + ".") for p in packages)


def modules_of(*packages: str) -> set[str]:
    """Every module of ``packages`` (each package itself included)."""
    found = {m for m in graph().modules if within(m, packages)}
    assert found, f"no module of {packages} in the import graph: has a package been renamed?"
    return found


def kernel() -> set[str]:
    """The kernel: ``mmmfed`` without its composition root."""
    return {m for m in modules_of(KERNEL_PACKAGE) if not within(m, COMPOSITION_ROOT)}


def described(importer: str, imported: str) -> str:
    """``importer -> imported`` with each line that makes the import (``module:line  code``)."""
    details = graph().get_import_details(importer=importer, imported=imported)
    lines = "; ".join(f"{d['importer']}:{d['line_number']} `{d['line_contents']}`" for d in details)
    return f"{importer} -> {imported} ({lines})"


def forbidden_imports(importers: set[str], imported: set[str]) -> list[str]:
    """Each direct import from a module of ``importers`` of a module of ``imported``, described."""
    g = graph()
    return sorted(
        described(importer, target)
        for importer in importers
        for target in g.find_modules_directly_imported_by(importer)
        if target in imported
    )


def chain_text(chain: Iterable[str]) -> str:
    """An import chain ``a -> b -> c`` with the lines that make each step."""
    steps = list(chain)
    return "\n    ".join(described(a, b) for a, b in itertools.pairwise(steps))


@pytest.mark.parametrize("node", NODES)
def test_a_node_imports_no_other_node(node: str) -> None:
    others = tuple(n for n in NODES if n != node)
    found = forbidden_imports(modules_of(node), modules_of(*others))
    assert not found, f"{node} imports another node ({', '.join(others)}):\n  " + "\n  ".join(found)


def test_the_kernel_imports_no_node_certs_or_composition_root() -> None:
    above = modules_of(*NODES, CERTS) | modules_of(*COMPOSITION_ROOT)
    found = forbidden_imports(kernel(), above)
    assert not found, (
        "the kernel (mmmfed outside mmmfed.cli) imports a layer above it; move the code that needs "
        "it to the composition root (mmmfed.cli) or to tests/:\n  " + "\n  ".join(found)
    )


def test_certs_imports_no_node_or_composition_root() -> None:
    above = modules_of(*NODES) | modules_of(*COMPOSITION_ROOT)
    found = forbidden_imports(modules_of(CERTS), above)
    assert not found, "certs imports a node or the composition root:\n  " + "\n  ".join(found)


def strongly_connected(nodes: set[str]) -> Iterator[list[str]]:
    """Tarjan's strongly connected components of the import graph restricted to ``nodes``
    (iterative), each of more than one module or importing itself."""
    g = graph()
    edges = {m: sorted(i for i in g.find_modules_directly_imported_by(m) if i in nodes) for m in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges[node]:
                        yield sorted(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])


def test_hand_written_modules_import_in_no_cycle() -> None:
    g = graph()
    hand_written = {m for m in modules_of(*PACKAGES) if not within(m, GENERATED)}
    cycles = []
    for component in strongly_connected(hand_written):
        first = component[0]
        second = next(i for i in sorted(g.find_modules_directly_imported_by(first)) if i in component)
        if second == first:  # a module importing itself
            back: tuple[str, ...] = (first,)
        else:
            back = g.find_shortest_chain(importer=second, imported=first) or (second, first)
        cycles.append(f"cycle among {', '.join(component)}:\n    " + chain_text([first, *back]))
    assert not cycles, "import cycles (move what both sides need into a module of its own):\n  " + "\n  ".join(cycles)
