"""``python -m fastws`` and its benchmark: the commands, the harness, and the peer
adapters' registry and checks (the peers are bench extras: each adapter here either
runs and passes its check, or says it is not installed)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

import fastws
from fastws.cli import bench, main, peers

SRC = str(Path(fastws.__file__).resolve().parent.parent)


def _run_module(*arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "fastws", *arguments], capture_output=True, text=True, env=env, timeout=120)


# -- the commands -------------------------------------------------------------------


def test_plain_command_reports_implementation_and_hot_paths() -> None:
    done = _run_module()
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"fastws {fastws.__version__} ({fastws.implementation}, SIMD {fastws.simd}")
    for title in ("apply_mask", "validate_utf8", "FrameParser"):
        assert title in done.stdout
    assert "fastws python" in done.stdout
    assert "performance goals" not in done.stdout  # no peers in the short run


def test_bench_quick_json_structure() -> None:
    done = _run_module("bench", "--quick", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"environment", "settings", "left_out", "results", "goals"}
    environment = document["environment"]
    assert environment["simd"] == fastws.simd and environment["implementation"] == fastws.implementation
    assert environment["cpu"] and environment["python"].startswith(("CPython", "PyPy"))
    assert document["settings"]["mode"] == "quick"
    results = document["results"]
    assert {row["operation"] for row in results} == set(peers.OPERATIONS)
    for row in results:
        assert row["median_ns"] > 0 and row["loops"] >= 1 and row["samples"] == 3
        assert row["kind"] in ("fastws", "peer")
        assert row["bytes_per_second"] > 0
        assert (row["frames_per_second"] is not None) == (row["operation"] == "parse")
    labels = {row["label"] for row in results}
    assert f"fastws {fastws.simd}" in labels if fastws.implementation == "cython" else True
    assert "fastws python" in labels and "bytes.decode" in labels  # CPython's own is always there
    # Every peer adapter either ran or is listed with the reason it did not.
    for adapter in peers.ADAPTERS:
        ran = any(row["label"] == adapter.label and row["operation"] == adapter.operation for row in results)
        listed = any(reason.startswith(f"{adapter.operation}: {adapter.label}: ") for reason in document["left_out"])
        assert ran != listed, adapter.label
    assert not [reason for reason in document["left_out"] if "failed" in reason]
    assert len(document["goals"]) == len(bench.goals(fastws.simd))
    for goal in document["goals"]:
        assert goal["met"] is None if goal["ratio"] is None else goal["met"] == (goal["ratio"] >= goal["threshold"])


def test_bench_rejects_unknown_operation(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--only", "nothing"])
    assert "no operation 'nothing'" in capsys.readouterr().err


def test_bench_table_in_process(capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--quick", "--only", "apply_mask_into", "--repeat", "2", "--sample-ms", "0.05", "--all-levels"]) == 0
    out = capsys.readouterr().out
    assert "apply_mask_into: mask in place" in out and "vs best peer" in out
    if fastws.implementation == "cython":
        for level in fastws.simd_levels():
            assert f"fastws {level}" in out
    assert "performance goals" in out and "n/a" in out


def test_plot_or_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = tmp_path / "bench.png"
    status = bench.run(repeat=1, quick=True, operations=["apply_mask"], sample_ms=0.05, plot_path=str(target), out=io.StringIO())
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert status == 2 and "needs matplotlib" in capsys.readouterr().err
        assert not target.exists()
    else:
        assert status == 0 and target.read_bytes().startswith(b"\x89PNG")


def test_plot_error_without_matplotlib(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    assert bench.run(repeat=1, quick=True, plot_path="never.png", out=io.StringIO()) == 2
    assert "pip install 'fastws[plot]'" in capsys.readouterr().err


# -- the harness --------------------------------------------------------------------


@pytest.mark.parametrize("text", sorted(bench.TEXTS))
@pytest.mark.parametrize("size", [7, 4096, 65536])
def test_text_bytes_end_on_a_character(text: str, size: int) -> None:
    data = bench.text_bytes(bench.TEXTS[text], size)
    assert size - 4 < len(data) <= size
    data.decode("utf-8")


def test_size_names() -> None:
    assert [bench._size_name(n) for n in (8, 125, 1024, 1 << 20, 1500)] == ["8 B", "125 B", "1 KiB", "1 MiB", "1500 B"]


def test_cases_have_unique_names_and_right_answers() -> None:
    cases = bench.all_cases()
    assert len({(case.operation, case.name) for case in cases}) == len(cases)
    for wanted in (bench.QUICK, bench.INTRO):
        for operation, names in wanted.items():
            assert set(names) <= {case.name for case in cases if case.operation == operation}
    reference = peers.fastws_adapters(fastws._impl.load("python"), "reference")
    calls = {adapter.operation: adapter.build() for adapter in reference}
    for case in cases:
        if case.payload_bytes <= 1 << 20:  # the 16 MiB ones are slow in pure Python
            assert case.expect(calls[case.operation](*case.arguments())), case


def test_calibrate_reaches_the_sample_time() -> None:
    loops = bench.calibrate(len, (b"x",), 200_000)
    assert loops > 1 and bench.time_calls(len, (b"x",), loops) > 0
    assert bench.time_calls(max, (1, 2), 3) > 0


def _result(label: str, kind: str, ns: float, operation: str = "apply_mask", case: str = "8 B") -> bench.Result:
    return bench.Result(operation, case, label, kind, ns, 1, 1, 8, 0)


def test_goals_are_met_missed_or_not_measured() -> None:
    results = [_result("fastws avx2", "fastws", 10.0, case=name) for name in ("8 B", "125 B")] + [
        _result("websockets", "peer", 20.0, case="8 B"),
        _result("websockets", "peer", 12.0, case="125 B"),
    ]
    results.append(_result("fastws avx2", "fastws", 500.0, "validate_utf8", "reject 1 MiB"))
    report = {entry["goal"]: entry for entry in bench.evaluate_goals(results, "avx2")}
    small = report["apply_mask >= 1.3x websockets, 8-125 B"]
    assert small["ratio"] == pytest.approx(1.2) and small["met"] is False  # the worst size counts
    assert small["worst"] == "websockets, 125 B"
    assert report["apply_mask >= 1.0x websockets, 8 B to 16 MiB"]["ratio"] is None  # sizes missing
    reject = report["validate_utf8 rejects 1 MiB (bad first byte) < 1 µs"]
    assert reject["met"] is True and reject["median_ns"] == pytest.approx(500.0)
    out = io.StringIO()
    bench._print_goals(list(report.values()), out)
    assert "1.20x  NOT met  (worst: websockets, 125 B)" in out.getvalue() and "500 ns  met" in out.getvalue()


def test_best_peer_and_table() -> None:
    results = [_result("fastws x", "fastws", 5.0), _result("a", "peer", 20.0), _result("b", "peer", 10.0)]
    assert bench.best_peer(results)[("apply_mask", "8 B")].label == "b"
    out = io.StringIO()
    bench._table(results, out)
    lines = out.getvalue().splitlines()
    assert lines[1] == bench.TITLES["apply_mask"]
    assert lines[3].split()[-1] == "2.00x" and lines[5].split()[-1] == "1.00x"


def test_progress_draws_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = bench.Progress(4, stream)
        progress.show("apply_mask 8 B")
        progress.tick()
        progress.tick()
        progress.close()
    assert "[###############...............]  50%" in terminal.getvalue() and "apply_mask 8 B" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_cpu_model_is_named() -> None:
    assert isinstance(bench.cpu_model(), str) and bench.cpu_model()


# -- the adapters -------------------------------------------------------------------


def _fake(operation: str, build: Any, payload: Any = None) -> peers.Adapter:
    return peers.Adapter("fake", operation, "fake-peer", build, payload)


def _missing() -> Any:
    import fastws_no_such_peer  # noqa: F401

    raise AssertionError("unreachable")


def _broken() -> Any:
    raise AttributeError("the peer's API changed")


WRONG = {
    "apply_mask": lambda: lambda data, mask: bytes(data),
    "apply_mask_into": lambda: lambda buffer, mask: None,
    "validate_utf8": lambda: lambda data: True,
    "utf8_chunks": lambda: lambda chunks: not chunks,
    "parse": lambda: lambda chunks: [b"x"] * 5009,
}


@pytest.mark.parametrize("operation", peers.OPERATIONS)
def test_registry_leaves_out_missing_broken_and_wrong_adapters(operation: str) -> None:
    good = [adapter for adapter in peers.fastws_adapters(fastws._impl.load("python"), "good") if adapter.operation == operation]
    fakes = [
        _fake(operation, _missing),
        _fake(operation, _broken),
        _fake(operation, WRONG[operation], (lambda frame: frame) if operation == "parse" else None),
    ]
    loaded, left_out = peers.load(operation, fakes + good + [_fake("other", _missing)])
    assert [item.adapter.label for item in loaded] == ["good"]
    assert left_out[0] == "fake: not installed (fastws_no_such_peer)"
    assert left_out[1] == "fake: failed to start: AttributeError: the peer's API changed"
    assert left_out[2].startswith("fake: failed its check: AdapterError: ")
    assert len(left_out) == 3


def test_parse_check_catches_a_lost_frame_and_wrong_payload_type() -> None:
    python = fastws._impl.load("python")
    (parse,) = [adapter for adapter in peers.fastws_adapters(python, "x") if adapter.operation == "parse"]
    call = parse.build()
    with pytest.raises(peers.AdapterError, match="found"):
        peers.check(parse, lambda chunks: call(chunks)[1:])
    with pytest.raises(peers.AdapterError, match="not bytes"):
        peers.check(parse._replace(payload=lambda frame: bytearray(frame.payload)), call)
    peers.check(parse._replace(payload=lambda frame: None), call)  # counts only: fine


@pytest.mark.parametrize("adapter", peers.ADAPTERS, ids=[f"{a.operation}-{a.label}" for a in peers.ADAPTERS])
def test_each_peer_adapter_passes_its_check_or_is_not_installed(adapter: peers.Adapter) -> None:
    loaded, left_out = peers.load(adapter.operation, [adapter])
    if loaded:
        assert loaded[0].adapter is adapter
    else:
        (reason,) = left_out
        assert reason.startswith(f"{adapter.label}: not installed"), reason


def test_fastws_adapters_pass_their_checks(impl: Any) -> None:
    for operation in peers.OPERATIONS:
        loaded, left_out = peers.load(operation, peers.fastws_adapters(impl, "fastws"))
        assert not left_out and len(loaded) == 1


def test_masked_stream_cuts_chunks() -> None:
    chunks: List[bytes] = peers.masked_stream([b"a" * 100, b""], chunk_size=50)
    assert [len(chunk) for chunk in chunks] == [50, 50, 12]
