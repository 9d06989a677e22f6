# Real servers for the tests: redis-server and MariaDB (with TLS) on 127.0.0.1.
#
# Source it (bash), from the repo root or anywhere:
#     . .ci/services.sh          # starts both, exports MINIEVENT_REDIS_URL, MINIEVENT_MYSQL_URL, ...
#     pytest tests/test_real_stack.py
#     services_stop              # or just leave the shell: an EXIT trap stops them
# Needs Debian's redis-server, mariadb-server and openssl (apt-get install -y redis-server
# mariadb-server openssl). Everything lives in one temporary directory, removed on stop;
# the servers listen on free ports of 127.0.0.1 only, and are stopped by their PIDs.

services_start() {
    local tmp redis_port mysql_port i
    for bin in redis-server redis-cli mariadbd mariadb-install-db mariadb openssl; do
        command -v "$bin" >/dev/null || { echo "services.sh: $bin not found" \
            "(apt-get install -y redis-server mariadb-server openssl)" >&2; return 1; }
    done
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/minievent-services.XXXXXX")
    MINIEVENT_SERVICES_DIR=$tmp
    # Two free ports: bind port 0, read what the kernel chose, let go.
    read -r redis_port mysql_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

    # --- redis: no persistence, data dir in $tmp
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$tmp" --save '' --appendonly no \
        --logfile "$tmp/redis.log" &
    MINIEVENT_REDIS_PID=$!

    # --- MariaDB: a fresh data dir, a self-signed certificate made now, TLS required for our user
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
    # mariadbd refuses to run as root unless told which user to be.
    local user
    user=$(id -un)
    mariadb-install-db --no-defaults --datadir="$tmp/mysql" --user="$user" \
        --auth-root-authentication-method=socket >"$tmp/install-db.log" 2>&1 \
        || { cat "$tmp/install-db.log" >&2; return 1; }
    mariadbd --no-defaults --datadir="$tmp/mysql" --socket="$tmp/mysql.sock" --port="$mysql_port" \
        --bind-address=127.0.0.1 --user="$user" --pid-file="$tmp/mariadb.pid" --log-error="$tmp/mariadb.err" \
        --skip-name-resolve --max-connections=300 \
        --ssl-cert="$tmp/cert.pem" --ssl-key="$tmp/key.pem" --ssl-ca="$tmp/cert.pem" &
    MINIEVENT_MYSQL_PID=$!

    # --- wait until both answer (at most 60 s)
    for i in $(seq 600); do
        redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG \
            && mariadb --no-defaults --socket="$tmp/mysql.sock" -u "$user" -e 'SELECT 1' >/dev/null 2>&1 \
            && break
        kill -0 "$MINIEVENT_REDIS_PID" 2>/dev/null || { cat "$tmp/redis.log" >&2; return 1; }
        kill -0 "$MINIEVENT_MYSQL_PID" 2>/dev/null || { cat "$tmp/mariadb.err" >&2; return 1; }
        sleep 0.1
    done
    [ "$i" -lt 600 ] || { echo "services.sh: servers did not answer within 60 s" >&2; return 1; }
    mariadb --no-defaults --socket="$tmp/mysql.sock" -u "$user" -e "
        CREATE DATABASE minievent;
        CREATE USER 'minievent'@'127.0.0.1' IDENTIFIED BY 'minievent' REQUIRE SSL;
        GRANT ALL ON minievent.* TO 'minievent'@'127.0.0.1';" || return 1

    export MINIEVENT_SERVICES_DIR MINIEVENT_REDIS_PID MINIEVENT_MYSQL_PID
    export MINIEVENT_REDIS_URL="redis://127.0.0.1:$redis_port/0"
    # SQLAlchemy URL; the ssl_ca query parameter makes PyMySQL verify the server's certificate.
    export MINIEVENT_MYSQL_URL="mysql+pymysql://minievent:minievent@127.0.0.1:$mysql_port/minievent?ssl_ca=$tmp/cert.pem"
    echo "services.sh: redis on $MINIEVENT_REDIS_URL, MariaDB (TLS) on 127.0.0.1:$mysql_port; services_stop stops them"
}

services_stop() {
    local pid
    for pid in ${MINIEVENT_REDIS_PID:-} ${MINIEVENT_MYSQL_PID:-}; do
        kill "$pid" 2>/dev/null || continue
        # wait for it to exit (MariaDB flushes first), then make sure
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    [ -n "${MINIEVENT_SERVICES_DIR:-}" ] && rm -rf "$MINIEVENT_SERVICES_DIR"
    unset MINIEVENT_REDIS_PID MINIEVENT_MYSQL_PID MINIEVENT_SERVICES_DIR MINIEVENT_REDIS_URL MINIEVENT_MYSQL_URL
}

if services_start; then
    trap services_stop EXIT
else
    services_stop
    false
fi
