# Before the first turn: what the agent would otherwise find out by trial and error.
# Small models guess paths, run git outside the repository and write answers for files
# they never looked at; this shows the files (with the first lines of the small text
# ones), where the repositories are and which common tools are missing. A name with
# spaces or other special characters is shown quoted, ready to paste into a command.
quoted() { case $1 in *[!A-Za-z0-9_./-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;; *) printf '%s' "$1" ;; esac; }
dir=${WORKDIR:-$PWD}
[ -d "$dir" ] || exit 0
echo "What is in $dir now (looked up before your first turn):"
# The kernel's folders are no one's work and hold files that never end (/dev/zero,
# /proc/kmsg): left out, so a task that starts in / is surveyed in a moment too.
files() { find "$dir" -mindepth 1 -maxdepth 2 \( -path /proc -o -path /sys -o -path /dev -o -name .git \) -prune -o "$@" -print 2>/dev/null | sort; }
files | head -40 |
  while IFS= read -r path; do
    if [ -d "$path" ]; then
      echo "  $(quoted "$path")/"
    elif [ -f "$path" ] && [ "$(stat -c %s "$path" 2>/dev/null || echo 0)" -le 1048576 ]; then
      echo "  $(quoted "$path") ($(wc -l < "$path" 2>/dev/null || echo ?) lines, $(wc -c < "$path" 2>/dev/null || echo ?) bytes)"
    else
      echo "  $(quoted "$path")"
    fi
  done
find "$dir" -maxdepth 3 -name .git -type d 2>/dev/null | head -5 | while IFS= read -r git; do
  repo=${git%/.git}
  repo=${repo:-/}
  echo "Git repository: $repo (run git there: cd '$repo' && git status)"
done
shown=0
while IFS= read -r file; do
  [ "$shown" -ge 4 ] && break
  grep -Iq . "$file" 2>/dev/null || continue
  echo "First lines of $(quoted "$file"):"
  head -n 3 "$file" | cut -c1-120 | sed 's/^/  | /'
  shown=$((shown + 1))
done < <(files -type f -size -1M)
missing=""
for tool in jq vim nano less sudo python; do
  command -v "$tool" > /dev/null || missing="$missing $tool"
done
[ -n "$missing" ] && echo "Not installed:$missing (use python3, sed -i, printf or cat, and you are root)."
exit 0
