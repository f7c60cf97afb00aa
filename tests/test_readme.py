"""The README points only at files of the repository (a reader of a clone has nothing else), and the
API it promises is documented in the repository too (docs/api.md)."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_link_of_the_readme_is_a_file_of_the_repository():
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    assert "docs/api.md" in targets
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t)]
    missing = [t for t in local if t and not (ROOT / t).exists()]
    assert not missing, missing


def test_the_readme_names_no_file_outside_the_repository():
    assert "shared/" not in README and "../" not in README


def test_the_api_document_covers_the_three_packages():
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for heading in ("## autograd: the engine", "## nn", "## optim"):
        assert heading in api
    for name in ("draw_graph", "device=\"cpu\"", "float16", "SigmoidGradBackward", "AutogradNameClashWarning"):
        assert name in api, name
