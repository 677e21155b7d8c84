"""The package's public names: each is the defining module's own object, loaded lazily, and the
package docstring's example runs."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import sleepscore


@pytest.mark.parametrize("name", sleepscore.__all__)
def test_public_name_is_the_defining_modules_object(name):
    module = importlib.import_module(f"sleepscore.{sleepscore._PUBLIC[name]}")
    assert getattr(sleepscore, name) is getattr(module, name)
    assert name in dir(sleepscore)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_function"):
        getattr(sleepscore, "no_such_function")


def test_importing_the_package_loads_no_pipeline_module():
    code = ("import sys, sleepscore; "
            "print(sorted(m for m in sys.modules if m == 'numpy' or m.startswith('sleepscore.') or m == 'onnxruntime'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_package_docstring_example_runs():
    finder = doctest.DocTestFinder(recurse=False)
    [test] = finder.find(sleepscore, "sleepscore")
    assert len(test.examples) >= 8
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.failed == 0
