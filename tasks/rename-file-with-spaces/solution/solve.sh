#!/bin/bash
set -e
mv "/app/inbox/quarterly report (final).txt" /app/inbox/quarterly_report_final.txt
