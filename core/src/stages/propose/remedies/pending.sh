#!/bin/bash
# Before done counts: the way out that the last command's note named (hooks/explain.sh keeps it), once, if it was not taken.
pending=$HOOK_STATE/explain-pending
[ -s "$pending" ] || exit 0
echo "Not done yet. After your last command you were told:"
cat "$pending"
echo "Do that first."
rm -f "$pending"
exit 1
