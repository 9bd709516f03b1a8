#!/usr/bin/env bash
# Installs LibreOffice (headless Calc) for the workbook conversion test, if soffice is missing.
set -euo pipefail
if command -v soffice >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "soffice not found and cannot apt-get install it here; the conversion test will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui >/dev/null
command -v soffice
