#!/bin/bash
set -e
tr ' ' '\n' < /app/words.txt | grep -v '^$' | sort | uniq -c | sort -rn | head -n 1 | awk '{ print $2 }' > /app/top_word.txt
