#!/usr/bin/env bash
# Makes the log files in logs/ with real software: a JDBC program
# (probe/LuiDbProbe.java) using MariaDB Connector/J, HikariCP, Commons DBCP 2
# and the Tomcat JDBC pool against a real MariaDB, logging through
# java.util.logging, log4j 1.2 and log4j 2; and a real Tomcat 10 deploying a
# small web application (webapp/) whose listener, filter or servlet fails at
# start. Run by hand (as root, on Debian 12), then commit logs/: the tests
# read the committed files and need no JDK. README.md says what each file is.
#
#   tests/maestro-logscan/real-java/make.sh
#   ONLY="pool-c3p0-jul tomcat-shutdown-port" tests/maestro-logscan/real-java/make.sh
#
# With ONLY (output names, without .log), only those files are made again
# and the others are left as they are (MariaDB's error log is then not
# copied: it is the whole run's).
#
# Needs the Debian packages default-jdk-headless tomcat10 libmariadb-java
# liblog4j1.2-java liblog4j2-java libhikaricp-java libcommons-dbcp2-java
# libslf4j-java libc3p0-java mariadb-server (installed when missing). Everything runs on
# 127.0.0.1 in a scratch folder, every wait is bounded, and the servers it
# starts are stopped when it ends.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/logs
WORK=/tmp/maestro-logscan-real-java
JAVA_OPTS_COMMON=(-Duser.language=en -Duser.country=US -Duser.timezone=UTC)
# A JVM in another language and time zone than the host's: java.util.logging
# (and Tomcat through it) then writes German month and level names.
JAVA_OPTS_DE=(-Duser.language=de -Duser.country=DE -Duser.timezone=America/New_York)
PKGS=(default-jdk-headless tomcat10 libmariadb-java liblog4j1.2-java liblog4j2-java
      libhikaricp-java libcommons-dbcp2-java libslf4j-java libc3p0-java mariadb-server)
want() { [[ -z ${ONLY:-} || " $ONLY " == *" $1 "* ]]; }

missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

J=/usr/share/java
TC=/usr/share/tomcat10
MARIADB_JAR=$(readlink -f $J/mariadb-java-client.jar)
PIDS=()
cleanup() {  # each server runs in a process group of its own (setsid)
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"
[[ -n ${ONLY:-} ]] || rm -rf "${OUT:?}"/*

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
  local until=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < until)) || { echo "make.sh: timed out waiting for: $*" >&2; return 1; }
    sleep 0.2
  done
}

# ---- MariaDB on a scratch data folder, 127.0.0.1 only.
DB=$WORK/db
DB_PORT=$(free_port)
DEAD_PORT=$(free_port)   # nothing listens there: the database is down
mariadb-install-db --no-defaults --user=root --datadir="$DB/data" \
  --auth-root-authentication-method=normal --skip-test-db >"$WORK/install-db.log" 2>&1
start_db() {
  mariadbd --no-defaults --user=root --datadir="$DB/data" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --socket="$DB/sock" --pid-file="$DB/pid" \
    --log-error="$DB/mariadb.err" --skip-name-resolve --innodb-buffer-pool-size=32M &
  DB_PID=$!
  PIDS+=("$DB_PID")
  wait_for 60 mariadb --no-defaults --socket="$DB/sock" -u root -e 'SELECT 1' >/dev/null 2>&1
}
stop_db() {
  kill -TERM "$DB_PID"
  wait "$DB_PID" || true
}
start_db
mariadb --no-defaults --socket="$DB/sock" -u root <<'SQL'
CREATE DATABASE maestro;
CREATE TABLE maestro.lui_job (id INT PRIMARY KEY, name VARCHAR(64));
INSERT INTO maestro.lui_job VALUES (1, 'weekly newsletter'), (2, 'bounce test');
CREATE USER 'lui'@'127.0.0.1' IDENTIFIED BY 'lui-secret';
GRANT ALL ON maestro.* TO 'lui'@'127.0.0.1';
SQL
URL=jdbc:mariadb://127.0.0.1:$DB_PORT/maestro
DEAD_URL=jdbc:mariadb://127.0.0.1:$DEAD_PORT/maestro

# ---- The JDBC program.
# The pools are on every class path (the program refers to them); they run
# with java.util.logging only (slf4j-jdk14; Commons Logging and Tomcat's
# JULI default to it).
CP_BASE=$MARIADB_JAR:$J/HikariCP.jar:$J/slf4j-api.jar:$J/commons-dbcp2.jar:$J/commons-pool2.jar:$J/commons-logging.jar:$TC/lib/tomcat-jdbc.jar:$TC/bin/tomcat-juli.jar:$J/c3p0.jar
CP_JUL=$CP_BASE:$J/slf4j-jdk14.jar
CP_LOG4J1=$CP_BASE:$J/log4j-1.2.jar
CP_LOG4J2=$CP_BASE:$J/log4j-api.jar:$J/log4j-core.jar
mkdir -p "$WORK/probe"
javac -nowarn -d "$WORK/probe" -cp "$CP_JUL:$J/log4j-1.2.jar:$J/log4j-api.jar:$J/log4j-core.jar" "$HERE/probe/LuiDbProbe.java"

probe() { # probe LOGGER SCENARIO OUTFILE URL USER PASSWORD [GO]
  local logger=$1 scenario=$2 out=$3; shift 3
  want "$(basename "$out" .log)" || return 0
  local cp opts=() jvm=("${JAVA_OPTS_COMMON[@]}")
  [[ $out != *-de.log ]] || jvm=("${JAVA_OPTS_DE[@]}")
  case $logger in
    jul)
      cp=$CP_JUL
      sed "s|^java.util.logging.FileHandler.pattern=.*|java.util.logging.FileHandler.pattern=$out|" \
        "$HERE/probe/jul.properties" >"$WORK/jul.properties"
      # (c3p0 would take log4j 1.2, which a Debian jar's manifest brings in.)
      opts=(-Djava.util.logging.config.file="$WORK/jul.properties"
            -Dcom.mchange.v2.log.MLog=com.mchange.v2.log.jdk14logging.Jdk14MLog) ;;
    log4j1) cp=$CP_LOG4J1; opts=(-Dlog4j.configuration="file:$HERE/probe/log4j.properties") ;;
    log4j2) cp=$CP_LOG4J2; opts=(-Dlog4j2.configurationFile="$HERE/probe/log4j2.xml") ;;
  esac
  timeout 120 java "${jvm[@]}" "${opts[@]}" -Dprobe.log="$out" \
    -cp "$WORK/probe:$cp" LuiDbProbe "$logger" "$scenario" "$@"
  rm -f "$out.lck"
}

for logger in jul log4j1 log4j2; do
  probe "$logger" clean "$OUT/jdbc-clean-$logger.log" "$URL" lui lui-secret
  probe "$logger" refused "$OUT/jdbc-refused-$logger.log" "$DEAD_URL" lui lui-secret
  probe "$logger" denied "$OUT/jdbc-denied-$logger.log" "$URL" lui wrong-password
  probe "$logger" tables "$OUT/jdbc-tables-$logger.log" "$URL" lui lui-secret
done
for pool in hikari dbcp2 tomcat-jdbc c3p0; do
  probe jul "$pool" "$OUT/pool-$pool-jul.log" "$DEAD_URL" lui lui-secret
done
# The same program in German, on New York time.
probe jul clean "$OUT/jdbc-clean-jul-de.log" "$URL" lui lui-secret
probe jul refused "$OUT/jdbc-refused-jul-de.log" "$DEAD_URL" lui lui-secret
# The database is still starting: one failed attempt, then it is up.
for logger in jul log4j2; do
  want "jdbc-retry-$logger" || continue
  stop_db
  GO=$WORK/go-$logger
  probe "$logger" retry "$OUT/jdbc-retry-$logger.log" "$URL" lui lui-secret "$GO" &
  P=$!
  wait_for 60 test -e "$GO.waiting"
  start_db
  touch "$GO"
  wait "$P"
done

# ---- Tomcat 10 with the web application as /lui.
WEBAPP=$WORK/webapp
mkdir -p "$WEBAPP/classes"
javac -nowarn -d "$WEBAPP/classes" -cp "$TC/lib/servlet-api.jar" "$HERE"/webapp/src/*.java
tomcat() { # tomcat SCENARIO [URL USER PASSWORD]
  local scenario=$1 url=${2:-$URL} user=${3:-lui} password=${4:-lui-secret}
  local base=$WORK/tomcat-$scenario port holder= jvm=("${JAVA_OPTS_COMMON[@]}")
  want "tomcat-$scenario" || return 0
  if [[ $scenario == de-* ]]; then  # the web application's own scenario, in German
    jvm=("${JAVA_OPTS_DE[@]}")
    scenario=${scenario#de-}
  fi
  port=$(free_port)
  mkdir -p "$base"/{conf,logs,temp,work,webapps/lui/WEB-INF/lib}
  cp -r /etc/tomcat10/. "$base/conf/"
  sed -i -e "s|<Connector port=\"8080\"|<Connector port=\"$port\" address=\"127.0.0.1\"|" "$base/conf/server.xml"
  cp -r "$WEBAPP/classes" "$base/webapps/lui/WEB-INF/"
  cp "$MARIADB_JAR" "$base/webapps/lui/WEB-INF/lib/"
  sed -e "s|@SCENARIO@|$scenario|" -e "s|@DB_URL@|$url|" -e "s|@DB_USER@|$user|" \
      -e "s|@DB_PASSWORD@|$password|" "$HERE/webapp/web.xml.in" >"$base/webapps/lui/WEB-INF/web.xml"
  if [[ $scenario == webxml ]]; then
    # A web.xml cut off in the middle (a copy that stopped halfway).
    head -c 700 "$base/webapps/lui/WEB-INF/web.xml" >"$base/x" && mv "$base/x" "$base/webapps/lui/WEB-INF/web.xml"
  fi
  if [[ $scenario == shutdown-port ]]; then
    # Another instance holds the shutdown port: Tomcat logs "Server startup
    # in" first, then that it cannot listen for the shutdown command.
    local sport
    sport=$(free_port)
    sed -i -e "s|<Server port=\"-1\"|<Server port=\"$sport\"|" "$base/conf/server.xml"
    python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$sport)); s.listen(); time.sleep(120)" &
    holder=$!
    PIDS+=("$holder")
    sleep 0.5
  fi
  if [[ $scenario == port-in-use ]]; then
    # Another program (an old instance) holds the HTTP port.
    python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(120)" &
    holder=$!
    PIDS+=("$holder")
    sleep 0.5
  fi
  CATALINA_HOME=$TC CATALINA_BASE=$base CATALINA_TMPDIR=$base/temp \
    JAVA_OPTS="${jvm[*]}" setsid timeout 180 "$TC/bin/catalina.sh" run >"$base/console.out" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  # The file handlers write asynchronously; the console has it at once.
  wait_for 120 grep -qs 'Server startup in' "$base/console.out"
  sleep 1
  # Stop it as systemd does (SIGTERM to the JVM; catalina.sh run execs it).
  # ($pid is timeout(1), which passes the signal on to the JVM.)
  kill -TERM "$pid" 2>/dev/null || true  # (it may have stopped itself)
  wait "$pid" || true
  [[ -z $holder ]] || kill -KILL "$holder"
  local dir=$OUT/$(basename "$base")
  mkdir -p "$dir"
  for f in catalina localhost; do  # a web.xml that does not parse gets no localhost log
    if [[ -e $(echo "$base"/logs/$f.*.log) ]]; then cp "$base"/logs/$f.*.log "$dir/$f.log"; fi
  done
}
tomcat clean
tomcat listener-refused "$DEAD_URL"
tomcat listener-denied "$URL" lui wrong-password
tomcat listener-nodriver
tomcat filter
tomcat servlet
tomcat webxml
tomcat port-in-use
tomcat shutdown-port
tomcat de-clean
tomcat de-listener-refused "$DEAD_URL"
stop_db
[[ -n ${ONLY:-} ]] || cp "$DB/mariadb.err" "$OUT/mariadb.err"

# Paths of this run's scratch folder and ports say nothing the tests need,
# but keep the files the same from run to run where that is cheap.
{
  echo "made: $(date -u '+%Y-%m-%d %H:%M:%S UTC') by make.sh${ONLY:+ (ONLY=\"$ONLY\": the other files in an earlier run)}"
  java -version 2>&1 | head -1
  dpkg-query -W -f '${Package} ${Version}\n' "${PKGS[@]}" libtomcat10-java
  echo "MariaDB Connector/J jar: $(basename "$MARIADB_JAR")"
} >"$OUT/VERSIONS.txt"
echo "make.sh: wrote $(find "$OUT" -type f | wc -l) files to $OUT"
