"""The bridge's warm glTF validator (FGMV-43 9.1 step 2 AVCF): one long-lived Node.js worker
validates GLB after GLB, is restarted when it stalls past its time limit, dies, or is abandoned by
a cancelled caller, and is replaced after a number of validations."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from bridge.conversion import GltfValidator
from bridge.conversion import validator as validator_module
from bridge.conversion.errors import ValidatorTimeout, ValidatorUnavailable
from mmmfed.cli.loopback import samples_dir
from mmmfed.errors import TooLarge

BOX = samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb"
pytestmark = pytest.mark.skipif(not BOX.is_file(), reason=f"sample asset not found at {BOX}")
NODE = shutil.which("node") or "node"


def fake_node(tmp_path: Path, first_run: str) -> str:
    """An executable standing in for ``node``: its first run does ``first_run`` (shell), every
    later run is the real Node.js with the same arguments."""
    mark = tmp_path / "ran-once"
    script = tmp_path / "node"
    script.write_text(f'#!/bin/sh\nif [ ! -e "{mark}" ]; then touch "{mark}"; {first_run}; fi\nexec {NODE} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
async def validator() -> AsyncIterator[GltfValidator]:
    v = GltfValidator()
    yield v
    await v.close()


async def test_validations_share_one_warm_worker_and_match_a_fresh_process(validator: GltfValidator) -> None:
    """Three validations start one worker, and each report equals the one-process-per-call path's."""
    data = BOX.read_bytes()
    results = [await validator.validate(data) for _ in range(3)]
    assert validator.workers_started == 1
    assert results == [validator.validate_sync(data)] * 3
    assert results[0].errors == 0


@pytest.mark.parametrize(
    "sample",
    ["vrm/VRM-Addon-for-Blender_tests/sphere.vrm", "vrm/godot-vrm_Godette/Godette_vrm_v4.vrm"],
    ids=["sphere-rejected", "godette"],
)
async def test_reports_on_real_avatars_match_a_fresh_process(validator: GltfValidator, sample: str) -> None:
    """The warm worker's report equals a fresh process's, counts and first messages, for an
    avatar the validator rejects (sphere.vrm: 1984 errors) and one it accepts (Godette)."""
    data = (samples_dir() / sample).read_bytes()
    warm = await validator.validate(data)
    assert warm == validator.validate_sync(data)
    assert (warm.errors > 0) == sample.endswith("sphere.vrm")


async def test_bytes_that_are_not_glb_are_refused_and_the_worker_keeps_serving(validator: GltfValidator) -> None:
    """Garbage gets an error report (GLB_INVALID_MAGIC, as a fresh process says), not an
    exception, then a real GLB validates on the same worker."""
    refused = await validator.validate(b"not a glb at all")
    assert refused.errors == 1 and refused.messages[0].startswith("GLB_INVALID_MAGIC at /:")
    assert refused == validator.validate_sync(b"not a glb at all")
    assert (await validator.validate(BOX.read_bytes())).errors == 0
    assert validator.workers_started == 1


async def test_a_stalled_worker_is_killed_at_the_time_limit_and_replaced(tmp_path: Path) -> None:
    """A worker that never answers: ValidatorTimeout after timeout_s; the next validation starts
    a new worker and succeeds."""
    validator = GltfValidator(node=fake_node(tmp_path, "exec sleep 60"), timeout_s=1.0)
    try:
        with pytest.raises(ValidatorTimeout, match=r"did not finish within 1\.0 s"):
            await validator.validate(BOX.read_bytes())
        assert (await validator.validate(BOX.read_bytes())).errors == 0
        assert validator.workers_started == 2
    finally:
        await validator.close()


async def test_a_worker_that_dies_fails_that_validation_only(tmp_path: Path) -> None:
    """A worker that exits mid-validation: ValidatorUnavailable naming the failure (not retried on
    the same input), then a new worker serves the next validation."""
    validator = GltfValidator(node=fake_node(tmp_path, "echo boom >&2; exit 9"))
    try:
        with pytest.raises(ValidatorUnavailable, match="worker failed on this input"):
            await validator.validate(BOX.read_bytes())
        assert (await validator.validate(BOX.read_bytes())).errors == 0
        assert validator.workers_started == 2
    finally:
        await validator.close()


async def test_a_cancelled_validation_kills_its_worker(tmp_path: Path) -> None:
    """The caller gives up (cancelled) while the worker stalls: the worker process is killed at
    once, not left to answer the next caller, and the next validation gets a fresh one."""
    validator = GltfValidator(node=fake_node(tmp_path, "exec sleep 60"), timeout_s=30.0)
    try:
        task = asyncio.create_task(validator.validate(BOX.read_bytes()))
        for _ in range(1000):  # until the worker exists (at most 10 s)
            if validator._worker is not None:
                break
            await asyncio.sleep(0.01)
        assert validator._worker is not None
        stalled = validator._worker.proc
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert stalled.wait(5) is not None
        assert (await asyncio.wait_for(validator.validate(BOX.read_bytes()), 20)).errors == 0
    finally:
        await validator.close()


async def test_a_worker_is_replaced_after_its_validations_and_ends_on_close() -> None:
    """max_validations_per_worker=2: five validations use three workers; close() ends the last."""
    validator = GltfValidator(max_validations_per_worker=2)
    data = BOX.read_bytes()
    for _ in range(5):
        assert (await validator.validate(data)).errors == 0
    assert validator.workers_started == 3
    assert validator._worker is not None
    last = validator._worker.proc
    await validator.close()
    assert last.poll() is not None
    await validator.close()  # idempotent


async def test_missing_gltf_validator_package_is_unavailable_with_the_setup_hint(tmp_path: Path) -> None:
    """The worker cannot load gltf-validator (a copy of it run where no node_modules holds the
    package): ValidatorUnavailable naming the package and telling how to install it; once the
    package is there (the real worker, next run) validation works."""
    worker_copy = tmp_path / "validate_worker.cjs"
    shutil.copy(Path(validator_module.__file__).with_name("validate_worker.cjs"), worker_copy)
    validator = GltfValidator(node=fake_node(tmp_path, f'NODE_PATH= exec {NODE} "{worker_copy}" "$2"'))
    try:
        with pytest.raises(ValidatorUnavailable, match=r"gltf-validator not found.*make setup"):
            await validator.validate(BOX.read_bytes())
        assert (await validator.validate(BOX.read_bytes())).errors == 0
    finally:
        await validator.close()


async def test_a_worker_killed_mid_validation_fails_that_one_and_the_next_succeeds(tmp_path: Path) -> None:
    """SIGKILL from outside while the worker holds a validation (it stalls): that validation
    fails ValidatorUnavailable at once (no wait for the time limit), the next one gets a new
    worker and succeeds."""
    validator = GltfValidator(node=fake_node(tmp_path, "exec sleep 60"), timeout_s=30.0)
    try:
        task = asyncio.create_task(validator.validate(BOX.read_bytes()))
        for _ in range(1000):  # until the worker exists (at most 10 s)
            if validator._worker is not None:
                break
            await asyncio.sleep(0.01)
        assert validator._worker is not None
        os.kill(validator._worker.proc.pid, signal.SIGKILL)
        with pytest.raises(ValidatorUnavailable, match="worker failed on this input"):
            await asyncio.wait_for(task, 20)
        assert (await validator.validate(BOX.read_bytes())).errors == 0
        assert validator.workers_started == 2
    finally:
        await validator.close()


async def test_input_over_max_input_bytes_is_refused_before_any_worker_starts() -> None:
    """A GLB one byte over max_input_bytes: TooLarge (RESOURCE_EXHAUSTED) naming both sizes, on
    both paths, and no Node.js process was started; one at the limit validates."""
    data = BOX.read_bytes()
    validator = GltfValidator(max_input_bytes=len(data) - 1)
    try:
        with pytest.raises(TooLarge, match=rf"{len(data)} bytes is over the {len(data) - 1}") as info:
            await validator.validate(data)
        assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        with pytest.raises(TooLarge):
            validator.validate_sync(data)
        assert validator.workers_started == 0
    finally:
        await validator.close()
    at_limit = GltfValidator(max_input_bytes=len(data))
    try:
        assert (await at_limit.validate(data)).errors == 0
    finally:
        await at_limit.close()
    with pytest.raises(ValueError, match="max_input_bytes"):
        GltfValidator(max_input_bytes=2**32)


def process_ended(pid: int) -> bool:
    """The process ``pid`` is gone or a zombie (ended, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def test_a_validator_dropped_without_close_lets_its_worker_end() -> None:
    """Nothing but the validator holds its worker (the stderr reader holds only the pipe): once
    the validator is collected, the worker's stdin closes and the Node.js process ends."""
    validator = GltfValidator()
    assert (await validator.validate(BOX.read_bytes())).errors == 0
    assert validator._worker is not None
    pid = validator._worker.proc.pid
    del validator
    gc.collect()
    for _ in range(200):  # at most 10 s
        if process_ended(pid):
            break
        await asyncio.sleep(0.05)
    assert process_ended(pid)
