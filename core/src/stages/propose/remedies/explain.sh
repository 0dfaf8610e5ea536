#!/bin/bash
# After each command: the way out of the dead ends small models walk into, as a command to run next. (after_command hook: COMMAND and EXIT_CODE are set.)
# Each note is also kept in $HOOK_STATE/explain-pending until a command draws none, so that a
# completion check (hooks/pending.sh) can hold done back once while a way out is untried.
cmd=$COMMAND code=$EXIT_CODE pending=$HOOK_STATE/explain-pending
rm -f "$pending"
say() { printf 'Note: %s\n' "$*" | tee -a "$pending"; }
# The words in command position: first word, and the first word after | ; & && || ( and sudo.
words=$(printf '%s\n' "$cmd" | sed -E 's/(\|\||&&|[|;&(]|\$\()/\n/g' | awk '{w=$1; if (w=="sudo"||w=="env"||w=="time"||w=="nohup") w=$2; if (w!="") print w}' | sort -u)
if [ "$code" = 127 ]; then
  grep -qE '(^|[|;&(]\s*)sudo\s' <<<"$cmd" && ! command -v sudo >/dev/null && say "you are root and there is no sudo: run the same command without sudo."
  for w in $words; do
    command -v "$w" >/dev/null 2>&1 || [[ $w == */* ]] || [[ $w == *=* ]] || case $w in
      jq) say "jq is not installed. Read JSON with python3, e.g. python3 -c 'import json; print(json.load(open(\"/app/data.json\"))[\"key\"])' > /app/out.txt" ;;
      python) say "python is not installed; python3 is: run the same command with python3." ;;
      pip) say "pip is not installed; there is no network either, so nothing can be installed: use python3 and what it has." ;;
      vim|vi|nano|emacs|less|more) say "$w is not installed and there is no terminal: write files with printf or cat <<'EOF' > FILE, read them with cat or head." ;;
      *) say "$w is not installed, and nothing can be installed (no network). Installed tools that can do most jobs: $(for t in python3 awk sed grep sort uniq cut tr find xargs perl; do command -v $t >/dev/null && printf '%s ' $t; done)" ;;
    esac
  done
  exit 0
fi
if [ -n "$code" ] && [ "$code" != 0 ]; then
  grep -qE '(apt-get|apt|pip3?|curl|wget|npm)\s+(install|update|-)' <<<"$cmd" && say "there is no network: nothing can be downloaded or installed. Use the tools that are installed."
  if grep -qE '(^|[|;&(]\s*)git\s' <<<"$cmd" && ! grep -q 'cd ' <<<"$cmd" && ! git rev-parse --git-dir >/dev/null 2>&1; then
    repos=$(find / -xdev -maxdepth 4 -name .git -not -path '/proc/*' 2>/dev/null | sed 's|/\.git$||' | head -n 5 | tr '\n' ' ')
    [ -n "$repos" ] && say "$PWD is not in a git repository. The repositories here: $repos— cd into the right one first (cd DIR && git ...)."
  fi
  if grep -qE 'python3? +-c' <<<"$cmd" && grep -qE ';\s*(for|if|while|with|def|try)\b' <<<"$cmd"; then
    say "python -c cannot have for/if/with after a ';'. Write the script on lines with a heredoc: python3 - <<'EOF' (lines) EOF"
  fi
  for p in $(grep -oE "(^|[ '\"=])/[A-Za-z0-9._/-]+" <<<"$cmd" | sed -E "s/^[ '\"=]//" | sort -u | head -n 5); do
    [ -e "$p" ] && continue
    near=$(dirname "$p"); while [ ! -d "$near" ]; do near=$(dirname "$near"); done
    say "$p does not exist. $near holds: $(ls -A "$near" 2>/dev/null | head -n 15 | tr '\n' ' ')"
  done
  exit 0
fi
[ "$code" = 0 ] || exit 0
# A command that wrote a file: what the file now holds, and a file name written beside a value.
out=$(grep -oE '(>>?|tee( -a)?) *[^ ;|&<>()]+' <<<"$cmd" | grep -vE '^(>>?|tee( -a)?) *(/dev/|&)' | tail -n 1 | sed -E 's/^(>>?|tee( -a)?) *//')
if [ -n "$out" ] && [ -f "$out" ]; then
  printf 'Note: %s now holds %s line(s):\n%s\n' "$out" "$(wc -l < "$out")" "$(head -n 3 "$out" | cut -c1-200)"
  first=$(head -n 1 "$out")
  named=$(awk '{print $NF}' <<<"$first")
  if [ "$(wc -w <<<"$first")" -ge 2 ] && [ -f "$named" ]; then
    src=$named
    if grep -qE '(^|[|;&(]\s*)wc\s' <<<"$cmd"; then
      flag=$(grep -oE 'wc +-[lwcm]' <<<"$cmd" | head -n 1 | awk '{print $2}')
      say "wc printed the file name beside the number. To write the number alone: wc ${flag:--l} < $src > $out"
    elif grep -qE '(sha[0-9]*sum|md5sum|shasum)' <<<"$cmd"; then
      tool=$(grep -oE '(sha[0-9]*sum|md5sum|shasum( -a [0-9]+)?)' <<<"$cmd" | head -n 1)
      say "$tool printed the file name beside the checksum. To write the checksum alone: $tool $src | cut -d' ' -f1 > $out"
    else
      say "the file name $src is written beside the value; if the task asks for the value alone, keep only the first field (| cut -d' ' -f1)."
    fi
  fi
elif grep -qE '(^|[|;&(]\s*)sed\s' <<<"$cmd" && ! grep -qE 'sed\s+(-[a-zA-Z]*i|--in-place)' <<<"$cmd" && [ -z "$out" ]; then
  say "sed printed the changed text but did not change the file. To change the file in place: sed -i '...' FILE"
fi
exit 0
