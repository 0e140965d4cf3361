"""The real sample assets the tests use (``../shared/samples``, see mmmfed.cli.loopback.samples_dir)
and the mark that skips a test when they are absent. A support module, not a conftest: pytest
loads every ``conftest.py`` under the module name ``conftest``, so test modules must not import
from one."""

from __future__ import annotations

import pytest

from mmmfed.cli.loopback import samples_dir

SAMPLES = samples_dir()
GODETTE = SAMPLES / "vrm" / "godot-vrm_Godette" / "Godette_vrm_v4.vrm"
VRM1 = (
    SAMPLES
    / "vrm"
    / "vrm-specification_VRMC_materials_mtoon_UV_Animation_Test"
    / "VRMC_materials_mtoon_UV_Animation_Test.vrm"
)
SPHERE = SAMPLES / "vrm" / "VRM-Addon-for-Blender_tests" / "sphere.vrm"
BOX = SAMPLES / "gltf" / "BoxTextured" / "BoxTextured.glb"
FOX = SAMPLES / "gltf" / "Fox" / "Fox.glb"

needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"real sample assets not found at {SAMPLES} (../shared/samples)"
)
