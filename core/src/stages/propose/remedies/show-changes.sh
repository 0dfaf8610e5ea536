#!/bin/bash
# Before done counts, once: the files this episode changed, to be compared with the task. (The runner wrote this hook at the episode's start.)
[ -e "$HOOK_STATE/changes-shown" ] && exit 0 || touch "$HOOK_STATE/changes-shown"
changed=$(find / -xdev -type f -newer "$0" -not -path '/proc/*' -not -path '/sys/*' -not -path '/tmp/*' -not -path '/var/*' -not -path '/usr/*' -not -path '/opt/harness/*' -not -path '/root/.cache/*' -not -path /.dockerenv -not -path /etc/hosts -not -path /etc/hostname -not -path /etc/resolv.conf 2>/dev/null | head -n 8)
[ -z "$changed" ] && echo "You have not changed any file yet. Do what the task asks first." && exit 1
echo "Before you finish, check that each file you changed holds exactly what the task asks (content and format):"; while IFS= read -r f; do if grep -Iq . "$f"; then printf -- '--- %s\n%s\n' "$f" "$(head -c 400 "$f")"; else printf -- '--- %s (%s bytes, empty or not text)\n' "$f" "$(stat -c %s "$f")"; fi; done <<< "$changed"
echo "If they are right, say done again; if not, fix them first."; exit 1
