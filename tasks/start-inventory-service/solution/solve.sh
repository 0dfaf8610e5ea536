#!/bin/bash
set -e
cd /app/service
sed -i 's/^port = .*/port = 8085/' service.conf
sed -i 's|^items_file = .*|items_file = /app/service/items.csv|' service.conf
# detach fully: own session, no inherited stdio, output to a log file
setsid nohup python3 /app/service/server.py > /app/service/server.log 2>&1 < /dev/null &
for i in $(seq 1 50); do
    if curl -fsS http://127.0.0.1:8085/health; then echo; exit 0; fi
    sleep 0.2
done
echo "service did not come up" >&2
cat /app/service/server.log >&2
exit 1
