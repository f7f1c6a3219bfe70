"""`clinsim image`: zero-shot classify medical images with a MedSigLIP-compatible model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clinsim.cli.errors import fail
from clinsim.tools.imaging.encoder import MEDSIGLIP
from clinsim.tools.imaging.loading import ImageLoadError
from clinsim.tools.imaging.vocabularies import VOCABULARIES, default_labels

app = typer.Typer(
    help="Medical images: zero-shot classification with MedSigLIP or any SigLIP checkpoint.",
    no_args_is_help=True,
)

Opt = typer.Option


def _labels(labels: str | None, modality: str | None) -> list[str]:
    if labels:
        parsed = list(dict.fromkeys(x.strip() for x in labels.split(",") if x.strip()))
        if parsed:
            return parsed
        fail("--labels: give at least one label, comma-separated")
    if modality:
        return default_labels(modality)[1]
    known = ", ".join(VOCABULARIES)
    fail(f"give --labels 'a,b,c' or --modality with a default vocabulary ({known})")


def _image_file(path: Path) -> Path:
    """A local file; `pydicom:ct` / `pydicom:mr` name pydicom's bundled examples."""
    from clinsim.scenarios.images import PYDICOM_SCHEME, ImageNotFound, pydicom_example

    text = str(path)
    if text.startswith(PYDICOM_SCHEME):
        try:
            return pydicom_example(text.removeprefix(PYDICOM_SCHEME))
        except ImageNotFound as exc:
            fail(str(exc))
    if not path.is_file():
        fail(f"{path}: no such image file")
    return path


@app.command()
def classify(
    images: Annotated[
        list[Path],
        typer.Argument(help="PNG, JPEG, TIFF or DICOM files, or pydicom:ct / pydicom:mr."),
    ],
    labels: Annotated[
        str | None, Opt(help="Comma-separated candidate findings, e.g. 'pneumonia,normal'.")
    ] = None,
    modality: Annotated[
        str | None, Opt(help="Use this modality's default findings instead of --labels.")
    ] = None,
    model: Annotated[
        str, Opt(help="SigLIP checkpoint directory, or a model id in the local HF cache.")
    ] = MEDSIGLIP,
    top_k: Annotated[int | None, Opt(min=1, help="Show only the k most probable labels.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print each image's sigmoid probability for each label (independent scores)."""
    from clinsim.tools.imaging.encoder import ImageEncoder, ImageModelError
    from clinsim.tools.imaging.zero_shot import classify_files

    candidates = _labels(labels, modality)
    files = [_image_file(path) for path in images]
    try:
        encoder = ImageEncoder.load(model)
        results = classify_files(encoder, files, candidates)
    except (ImageModelError, ImageLoadError) as exc:
        fail(str(exc))
    if as_json:
        rows = [
            {
                "image": str(path),
                "findings": [
                    {"label": f.label, "probability": round(f.probability, 6)}
                    for f in findings[:top_k]
                ],
            }
            for path, findings in zip(images, results, strict=True)
        ]
        typer.echo(json.dumps({"model": encoder.model_id, "results": rows}, indent=2))
        return
    console = Console()
    for path, findings in zip(images, results, strict=True):
        console.print(str(path), style="bold", soft_wrap=True, highlight=False)
        table = Table()
        table.add_column("label")
        table.add_column("probability", justify="right")
        for finding in findings[:top_k]:
            table.add_row(finding.label, f"{finding.probability:.4f}")
        console.print(table)
