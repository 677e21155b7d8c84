"""A non-editable install carries the shipped models and finds the default one."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (pip install hatchling)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO)], check=True, capture_output=True)
    (built,) = out.glob("sleepscore-*.whl")
    return built


def test_wheel_contains_every_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.name for p in (REPO / "models").glob("*.onnx"))
    assert shipped, "no model in models/"
    for name in shipped:
        assert f"sleepscore/shipped_models/{name}" in names


def test_installed_package_scores_with_its_own_default_model(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    code = ("from sleepscore.model import default_model_path, load_model\n"
            "path = default_model_path()\n"
            "print(path)\n"
            "print(load_model().info.architecture)\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                          capture_output=True, text=True)
    path, architecture = done.stdout.split()
    assert Path(path).is_relative_to(site) and Path(path).is_file()
    assert architecture == "spectral-robust"
