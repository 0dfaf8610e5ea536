#!/bin/bash
set -e
printf '%s\n' '#!/bin/bash' 'echo "Hello, $1!"' > /app/greet.sh
chmod +x /app/greet.sh
/app/greet.sh Ada
/app/greet.sh "Mary Ann"
