#!/bin/bash
# Before done counts, once: the files this episode changed, to be compared with the task, and any file name found inside them (`wc -l FILE` and `sha256sum FILE` print the name beside the value). (The runner wrote this hook at the episode's start.)
[ -e /tmp/.changes-shown ] && exit 0 || touch /tmp/.changes-shown
changed=$(find / -xdev -type f -newer "$0" -not -path '/proc/*' -not -path '/sys/*' -not -path '/tmp/*' -not -path '/var/*' -not -path '/usr/*' -not -path '/opt/harness/*' -not -path '/root/.cache/*' -not -path /.dockerenv -not -path /etc/hosts -not -path /etc/hostname -not -path /etc/resolv.conf 2>/dev/null | head -n 8)
[ -z "$changed" ] && echo "You have not changed any file yet. Run a command that does what the task asks." && exit 1
echo "Before you finish, check that each file you changed holds exactly what the task asks (content and format):"
while IFS= read -r f; do
  if ! grep -Iq . "$f"; then printf -- '--- %s (%s bytes, empty or not text)\n' "$f" "$(stat -c %s "$f")"; continue; fi
  printf -- '--- %s\n%s\n' "$f" "$(head -c 400 "$f")"
  for name in $(head -c 2000 "$f" | grep -oE '[A-Za-z0-9._/-]*[A-Za-z0-9_-]\.[A-Za-z0-9]+' | sort -u | head -n 20); do
    if [ -f "$name" ] && [ "$(realpath "$name")" != "$(realpath "$f")" ]; then
      echo "Note: $f holds the file name $name too. If the task asks for the value alone, write only the value: give the file on standard input (wc -l < $name) or keep the first field (sha256sum $name | cut -d' ' -f1)."
      break
    fi
  done
done <<< "$changed"
echo "If they are right, say done again. If not, your next command must fix them."; exit 1
