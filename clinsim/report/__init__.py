"""The HTML report: typed data in (`ReportData`), one self-contained HTML file out."""

from clinsim.report.assemble import assemble_report
from clinsim.report.html import render_report
from clinsim.report.model import (
    EpisodeTranscript,
    ImageAsset,
    ReportData,
    RunInfo,
    TranscriptEntry,
)

__all__ = [
    "EpisodeTranscript",
    "ImageAsset",
    "ReportData",
    "RunInfo",
    "TranscriptEntry",
    "assemble_report",
    "render_report",
]
