#!/bin/bash
set -e
wc -w < /app/essay.txt > /app/word_count.txt
