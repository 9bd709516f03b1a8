"""The workbook as a PDF, through LibreOffice (`soffice`) when it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bot.i18n import _


class PdfUnavailable(RuntimeError):
    """LibreOffice is not installed, or it could not convert the workbook (its argument is a
    catalog message; `str()` is its English)."""


def to_pdf(workbook: Path, timeout: float = 180) -> Path:
    """Write `workbook` as a PDF beside it (same name, `.pdf`) and return its path."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise PdfUnavailable(
            _("LibreOffice (soffice) is not installed, so no PDF was written; install it "
              "(for example `apt-get install libreoffice-calc-nogui`) or open the workbook and "
              "print it to PDF.")
        )  # fmt: skip
    workbook = workbook.resolve()
    with tempfile.TemporaryDirectory(prefix="convener-soffice-") as profile:
        try:
            done = subprocess.run(
                [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                 "--convert-to", "pdf", "--outdir", str(workbook.parent), str(workbook)],
                capture_output=True, text=True, timeout=timeout,
                env={**os.environ, "HOME": profile},
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise PdfUnavailable(
                _("LibreOffice took longer than {seconds} s", seconds=round(timeout))
            ) from exc
    pdf = workbook.with_suffix(".pdf")
    if done.returncode != 0 or not pdf.exists():
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PdfUnavailable(
            _("LibreOffice could not convert the workbook: {detail}", detail=detail[0])
        )
    return pdf
