import os
import subprocess
import sys

import pytest

import llamacore
from llamacore import _core


def test_system_info_names_compiled_and_selected_levels():
    info = llamacore.system_info()
    assert info.startswith(f"llamacore {llamacore.__version__} | CPU: compiled = generic")
    assert f"selected = {_core.cpu_level()}" in info
    # The best level this CPU supports, unless LLAMACORE_CPU forces a lower one (CI's forced-level jobs do).
    forced = os.environ.get("LLAMACORE_CPU")
    expected = forced if forced in _core.cpu_levels_supported() else _core.cpu_levels_supported()[-1]
    assert _core.cpu_level() == expected


def test_x86_portable_build_contains_simd_levels():
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("x86-64 only")
    compiled = llamacore.system_info().split("compiled = ")[1].split(" |")[0].split(",")
    assert compiled == ["generic", "avx2", "avx512"]


@pytest.mark.parametrize("level", ["generic", "avx2", "avx512", "neon"])
def test_env_forces_a_lower_level(level):
    if level not in _core.cpu_levels_supported():
        pytest.skip(f"{level} cannot run here")
    env = dict(os.environ, LLAMACORE_CPU=level)
    out = subprocess.run(
        [sys.executable, "-c", "import llamacore; print(llamacore.system_info())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"selected = {level} " in out.stdout
    assert out.stderr == ""


def test_env_with_unknown_level_warns_and_keeps_best():
    env = dict(os.environ, LLAMACORE_CPU="avx9000")
    out = subprocess.run(
        [sys.executable, "-c", "from llamacore import _core; print(_core.cpu_level())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == _core.cpu_levels_supported()[-1]
    assert "LLAMACORE_CPU=avx9000 is not a level" in out.stderr


def test_set_cpu_level_rejects_unknown_and_unsupported():
    with pytest.raises(ValueError, match="unknown CPU level"):
        _core.set_cpu_level("sse9")
    for level in ("generic", "avx2", "avx512", "neon"):
        if level not in _core.cpu_levels_supported():
            with pytest.raises(ValueError, match="cannot run here"):
                _core.set_cpu_level(level)
