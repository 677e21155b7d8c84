"""``scripts/code_shape.py``, whose import-cycle and size figures go into refactoring notes."""

from __future__ import annotations

import importlib.util

from repo_paths import REPO

_spec = importlib.util.spec_from_file_location("code_shape", REPO / "scripts" / "code_shape.py")
code_shape = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(code_shape)

SOURCES = {
    "sleepscore": "",
    "sleepscore.core": "from .nets.layers import conv\n",
    "sleepscore.nets": "from . import layers\n",
    "sleepscore.nets.layers": "def conv():\n    from sleepscore.training.loop import plan\n",
    "sleepscore.training": "",
    "sleepscore.training.loop": "from ..nets import layers\nfrom typing import TYPE_CHECKING\n"
                                "if TYPE_CHECKING:\n    from ..core import conv\n",
}


def test_cycles_count_function_imports_only_when_asked_and_never_type_checking_ones():
    assert code_shape.cycles(code_shape.import_graph(SOURCES, anywhere=False)) == []
    # layers -> training.loop (inside a function) -> nets (its package, run first) -> layers
    (group,) = code_shape.cycles(code_shape.import_graph(SOURCES, anywhere=True))
    assert set(group) >= {"sleepscore.nets.layers", "sleepscore.training.loop"}
    assert "sleepscore.core" not in group  # only a TYPE_CHECKING import points back at it


def test_subpackages_importing_each_other_are_reported_once():
    graph = code_shape.subpackage_graph(SOURCES)
    assert graph["sleepscore.nets"] == {"sleepscore.training"}
    assert code_shape.cycles(graph) == [["sleepscore.nets", "sleepscore.training"]]


def test_largest_functions_are_measured_in_lines():
    source = {"m": "def small():\n    pass\n\n\ndef large():\n    a = 1\n    b = 2\n    return a + b\n"}
    assert code_shape.largest_functions(source, 1) == [(4, "m.large")]
