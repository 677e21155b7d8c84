"""The wheel carries the shipped models and the simulator's data, nothing of the development
clone, and a non-editable install scores and simulates on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from repo_paths import REPO

from sleepscore.model import DEFAULT_MODEL, SleepModel
from sleepscore.simulate import simulate_dataset

CHECK_WHEEL = REPO / "scripts" / "check_wheel.py"

pytest.importorskip("hatchling", reason="building the wheel needs hatchling (pip install hatchling)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(REPO)], check=True, capture_output=True)
    (built,) = out.glob("sleepscore-*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    """The wheel installed on its own, in a folder with no Sleep-EDF material anywhere beside."""
    target = tmp_path_factory.mktemp("installed") / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    return target


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # The clone (on sys.path through the editable install) must not stand in for the wheel, nor
    # ../shared for the packaged simulator data.
    env = {**os.environ, "PYTHONPATH": str(site), "SLEEPSCORE_SLEEP_EDF_DIR": str(cwd / "nowhere")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, check=True,
                          capture_output=True, text=True)


def check_wheel(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK_WHEEL), str(path)], capture_output=True, text=True)


def test_wheel_contains_every_shipped_model_with_its_card(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.stem for p in (REPO / "models").glob("*.onnx"))
    assert DEFAULT_MODEL.removesuffix(".onnx") in shipped
    for stem in shipped:
        assert f"sleepscore/shipped_models/{stem}.onnx" in names
        assert f"sleepscore/shipped_models/{stem}.md" in names


def test_wheel_passes_the_ci_check(wheel):
    done = check_wheel(wheel)
    assert done.returncode == 0, done.stderr
    assert DEFAULT_MODEL in done.stdout
    assert not any(name.endswith((".pt", ".log", ".json")) or "simulated" in name
                   for name in zipfile.ZipFile(wheel).namelist())


def test_check_rejects_development_files_and_a_missing_card(wheel, tmp_path):
    bad = tmp_path / wheel.name
    shutil.copy(wheel, bad)
    with zipfile.ZipFile(bad, "a") as archive:
        archive.writestr("sleepscore/shipped_models/spectral-new.pt", b"checkpoint")
        archive.writestr("sleepscore/shipped_models/dev/tinysleepnet-simulated.onnx", b"onnx")
        archive.writestr("sleepscore/shipped_models/spectral-new.onnx", b"onnx")
    done = check_wheel(bad)
    assert done.returncode == 1 and not done.stdout
    errors = done.stderr.splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    for name in ("spectral-new.pt", "dev/tinysleepnet-simulated.onnx", "card spectral-new.md"):
        assert any(name in line for line in errors), name


def test_installed_package_scores_with_its_own_default_model(site, tmp_path):
    code = ("from sleepscore.model import default_model_path, load_model\n"
            "path = default_model_path()\n"
            "print(path)\n"
            "print(load_model().info.architecture)\n")
    path, architecture = run_installed(site, tmp_path, "-c", code).stdout.split()
    assert Path(path).is_relative_to(site) and Path(path).is_file()
    assert architecture == SleepModel(REPO / "models" / DEFAULT_MODEL).info.architecture


def test_installed_package_simulates_without_sleep_edf(site, tmp_path):
    out = tmp_path / "installed"
    run_installed(site, tmp_path, "-m", "sleepscore", "simulate", str(out), "--nights", "1",
                  "--seed", "4", "--hours", "0.5")
    code = "import sleepscore.simulate as s; print(s.__file__)"
    assert Path(run_installed(site, tmp_path, "-c", code).stdout.strip()).is_relative_to(site)
    # The same night as the clone simulates: the wheel carries the clone's simulator data.
    (clone,) = simulate_dataset(tmp_path / "clone", 1, seed=4, hours=0.5)
    assert (out / clone.psg.name).read_bytes() == clone.psg.read_bytes()
    assert (out / clone.hypnogram.name).read_bytes() == clone.hypnogram.read_bytes()
