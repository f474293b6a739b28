"""The book of a run is built inside that run's directory, wherever a ``_config.yml`` sits above it."""

import shutil
from pathlib import Path

import pytest

from dolphin_ae.exceptions import DolphinAEError
from dolphin_ae.book.report import build_book

PROJECT_CONFIG = Path(__file__).resolve().parents[2] / "_config.yml"


def _tiny_book(book_dir, title):
    book_dir.mkdir(parents=True)
    (book_dir / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    (book_dir / "intro.md").write_text(f"# {title}\n\nThe first page.\n")
    (book_dir / "page.md").write_text("# A chapter\n\nThe second page.\n")
    return book_dir


@pytest.mark.slow
def test_two_runs_inside_a_project_keep_two_books_in_their_run_dirs(tmp_path):
    # A checkout: its _config.yml sits above the run directories, as runs/<profile> does in the repository.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(PROJECT_CONFIG, project / "_config.yml")
    books = {name: _tiny_book(project / "runs" / name / "book", f"Run {name}") for name in ("first", "second")}
    indexes = {name: build_book(book, project_dir=project) for name, book in books.items()}
    for name, index in indexes.items():
        assert index == books[name].resolve() / "_build" / "html" / "index.html"
        assert index.is_file()
        assert f"Run {name}" in (index.parent / "intro.html").read_text()
        assert (index.parent / "page.html").is_file()
    assert not (project / "_build").exists(), "the build wrote into the checkout"


def test_a_build_that_writes_no_index_is_an_error(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(PROJECT_CONFIG, project / "_config.yml")
    book = _tiny_book(project / "runs" / "a" / "book", "Run a")
    monkeypatch.setattr("dolphin_ae.book.report.subprocess.run", lambda *args, **kwargs: None)
    with pytest.raises(DolphinAEError, match="wrote no .*index.html"):
        build_book(book, project_dir=project)
