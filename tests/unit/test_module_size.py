"""No module of the layer or of the functions grows past 400 lines: a module that large holds
several things, and is split by what they are (docs/decisions.md §110)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = (ROOT / "layers/incentives/python/incentives", ROOT / "functions")
MAX_LINES = 400

EXCEPTIONS = frozenset(
    {
        # split when affiliate levels II lands (that branch is changing this module now)
        "layers/incentives/python/incentives/storage/levels.py",
    }
)


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def oversized(folders: tuple[Path, ...], root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Every ``.py`` file under ``folders`` longer than ``limit`` lines: its path under ``root`` → lines."""
    return {
        path.relative_to(root).as_posix(): lines
        for folder in folders
        for path in sorted(folder.rglob("*.py"))
        if (lines := _lines(path)) > limit
    }


def test_no_module_is_over_the_limit() -> None:
    found = {path: lines for path, lines in oversized(CHECKED, ROOT).items() if path not in EXCEPTIONS}
    listed = "\n".join(f"  {path}: {lines} lines" for path, lines in sorted(found.items()))
    assert not found, f"modules over {MAX_LINES} lines (split them by what they hold):\n{listed}"


def test_every_exception_is_still_needed() -> None:
    """An exception for a module that was split (or is back under the limit) is removed."""
    stale = [path for path in EXCEPTIONS if not (ROOT / path).is_file() or _lines(ROOT / path) <= MAX_LINES]
    assert not stale, f"remove from EXCEPTIONS, now under {MAX_LINES} lines or gone: {stale}"


def test_an_oversized_module_is_found(tmp_path: Path) -> None:
    (tmp_path / "area").mkdir()
    (tmp_path / "area" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "area" / "fits.py").write_text("x = 1\n" * MAX_LINES)
    assert oversized((tmp_path,), tmp_path) == {"area/big.py": MAX_LINES + 1}
