"""One error hierarchy (pynq_mnist/errors.py): every error the project raises on purpose
is a Refused (exit 2) or a Failed (exit 1), found by reading every module's classes."""

import ast
import builtins
import importlib.util
from pathlib import Path

from pynq_mnist.errors import EXIT_FAILED, EXIT_REFUSED, Failed, PynqMnistError, Refused

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_layers", ROOT / ".ci" / "check_layers.py")
check_layers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_layers)

#: Exceptions that never leave the code that raises them, each with its reason.
INTERNAL = {
    "SimulatedKill": "a test hook that stands for SIGKILL inside training (fit.py)",
    "DecodeError": "the emulated DMA's DecErr, turned into a status bit (emulator/memory.py)",
}
ROOTS = {"PynqMnistError", "Refused", "Failed"}


def _classes() -> dict[str, tuple[list[str], str]]:
    """Every class of the distribution: name -> (base names, where)."""
    found = {}
    for _name, path in check_layers.modules(ROOT):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                ]
                found[node.name] = (bases, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _is_exception(name: str, classes: dict) -> bool:
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return True
    return name in classes and any(_is_exception(b, classes) for b in classes[name][0])


def _in_hierarchy(name: str, classes: dict) -> bool:
    return name in ROOTS or (
        name in classes and any(_in_hierarchy(b, classes) for b in classes[name][0])
    )


def test_every_project_error_is_refused_or_failed():
    classes = _classes()
    errors = {n for n in classes if n not in ROOTS and _is_exception(n, classes)}
    assert len(errors) > 20, sorted(errors)  # the scan found the project's errors
    outside = sorted(
        f"{name} ({classes[name][1]})"
        for name in errors - set(INTERNAL)
        if not _in_hierarchy(name, classes)
    )
    assert not outside, f"errors outside pynq_mnist.errors' hierarchy: {outside}"


def test_the_two_kinds_have_their_exit_statuses():
    assert issubclass(Refused, PynqMnistError) and issubclass(Failed, PynqMnistError)
    assert (Refused.exit_status, Failed.exit_status) == (EXIT_REFUSED, EXIT_FAILED)
    assert not issubclass(Refused, Failed) and not issubclass(Failed, Refused)


def test_board_failures_are_failures_and_bad_input_is_refused():
    from pynq_mnist.board import DmaTimeout, GoldenMismatch, RecoveryFailed
    from pynq_mnist.board.bench_options import BenchOptionError
    from pynq_mnist.bundle import BundleError

    for failure in (DmaTimeout, GoldenMismatch, RecoveryFailed):
        assert issubclass(failure, Failed) and not issubclass(failure, BundleError)
    for refusal in (BundleError, BenchOptionError):
        assert issubclass(refusal, Refused) and issubclass(refusal, ValueError)
