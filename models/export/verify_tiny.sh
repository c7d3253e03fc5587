#!/bin/sh
# CI entry point: regenerate the tiny bundle in a temp dir and compare with models/tiny.
set -e
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 models/export/verify_tiny.py "$@"
