#!/usr/bin/env bash
# emulators.sh starts, stops and reports the local AWS emulators that
# weatherd's tests run against, all on loopback only:
#
#   kinesis-local (kinesis-mock)  http://127.0.0.1:4568   WEATHERD_EMU_KINESIS_PORT
#                                 (TLS port 4567:         WEATHERD_EMU_KINESIS_TLS_PORT)
#   dynalite (DynamoDB)           http://127.0.0.1:4569   WEATHERD_EMU_DYNAMODB_PORT
#   s3rver (S3)                   http://127.0.0.1:4570   WEATHERD_EMU_S3_PORT
#   goaws (SNS + SQS)             http://127.0.0.1:4571   WEATHERD_EMU_SNS_PORT
#
# Usage: deploy/local/emulators.sh start|stop|status [NAME...]
#
# NAME is kinesis, dynamodb, s3 or sns (or the emulator's own name:
# kinesis-local, dynalite, s3rver, goaws); without names a command acts on
# all four.
#
# start installs the pinned versions when they are missing or stale
# (npm ci from package-lock.json; goaws built from goaws/go.mod), starts
# every named emulator that is not already answering, and waits until each
# one answers a real request. It is idempotent: a second start is a no-op.
# stop sends SIGTERM (SIGKILL after a grace period) to exactly the processes
# start recorded in the pid files, and waits until their ports are free.
# status prints each emulator and exits non-zero when any is down.
#
# State is in memory (S3 objects in $RUN_DIR/s3rver-data, wiped at start),
# so a restarted emulator starts empty. With WEATHERD_EMU_PERSIST=1 the
# Kinesis, DynamoDB and S3 emulators keep their state in $RUN_DIR across
# `stop NAME` / `start NAME`, so a test can simulate an outage: kinesis-local
# writes its streams to disk every second (and once more at SIGTERM), dynalite uses
# LevelDB, s3rver keeps its directory. goaws cannot persist: after a restart
# topics and subscriptions must be created again (weatherd bootstrap).
# drain.js (preloaded into kinesis-local) makes its SIGTERM prompt and, when
# persisting, lets it write its last records before it exits.
#
# Logs: $RUN_DIR/<name>.log, pids: $RUN_DIR/<name>.pid, where RUN_DIR is
# deploy/local/.run unless WEATHERD_EMU_RUN_DIR says otherwise (use another
# run dir together with other ports to run a second set side by side).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN_DIR=$HERE/.bin
RUN_DIR=${WEATHERD_EMU_RUN_DIR:-$HERE/.run}
BIND=127.0.0.1

KINESIS_PORT=${WEATHERD_EMU_KINESIS_PORT:-4568}
KINESIS_TLS_PORT=${WEATHERD_EMU_KINESIS_TLS_PORT:-4567}
DYNAMODB_PORT=${WEATHERD_EMU_DYNAMODB_PORT:-4569}
S3_PORT=${WEATHERD_EMU_S3_PORT:-4570}
SNS_PORT=${WEATHERD_EMU_SNS_PORT:-4571}

PERSIST=${WEATHERD_EMU_PERSIST:-0}              # 1: keep state across stop/start
START_TIMEOUT=${WEATHERD_EMU_START_TIMEOUT:-90} # seconds per emulator
STOP_GRACE=${WEATHERD_EMU_STOP_GRACE:-10}       # seconds before SIGKILL

NAMES=(kinesis-local dynalite s3rver goaws)

log() { printf 'emulators: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

port_of() {
	case $1 in
	kinesis-local) echo "$KINESIS_PORT" ;;
	dynalite) echo "$DYNAMODB_PORT" ;;
	s3rver) echo "$S3_PORT" ;;
	goaws) echo "$SNS_PORT" ;;
	esac
}

# probe_of names the health.js probe for an emulator.
probe_of() {
	case $1 in
	kinesis-local) echo kinesis ;;
	dynalite) echo dynamodb ;;
	s3rver) echo s3 ;;
	goaws) echo sns ;;
	esac
}

# marker_of is a string that the command line of the emulator's process
# contains; it guards against killing an unrelated process that reused a pid.
marker_of() {
	case $1 in
	kinesis-local) echo "kinesis-local/main.js" ;;
	dynalite) echo "dynalite/cli.js" ;;
	s3rver) echo "s3rver/bin/s3rver.js" ;;
	goaws) echo "$BIN_DIR/goaws" ;;
	esac
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}

# ---------------------------------------------------------------- install

install_npm() {
	local stamp=$HERE/node_modules/.package-lock.json
	if [[ -f $stamp && ! $HERE/package-lock.json -nt $stamp && ! $HERE/package.json -nt $stamp &&
		-f $HERE/node_modules/kinesis-local/main.js && -f $HERE/node_modules/dynalite/cli.js &&
		-f $HERE/node_modules/s3rver/bin/s3rver.js ]]; then
		return 0
	fi
	need node "install Node.js 20 (apt-get install -y nodejs npm)"
	need npm "install npm (apt-get install -y npm)"
	log "installing kinesis-local, dynalite, s3rver (npm ci in $HERE)"
	if ! (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error </dev/null >"$RUN_DIR/npm-ci.log" 2>&1); then
		tail -n 30 "$RUN_DIR/npm-ci.log" >&2
		die "npm ci failed (full log: $RUN_DIR/npm-ci.log)"
	fi
	touch "$stamp"
}

install_goaws() {
	local bin=$BIN_DIR/goaws src=$HERE/goaws info=
	if [[ -x $bin && ! $src/main.go -nt $bin && ! $src/go.mod -nt $bin && ! $src/go.sum -nt $bin ]]; then
		info=$(go version -m "$bin" 2>/dev/null || true)
		if [[ $info =~ github.com/Admiral-Piett/goaws[[:space:]]+v0\.4\.5 ]]; then
			return 0
		fi
	fi
	need go "install Go (https://go.dev/dl)"
	log "building goaws v0.4.5 into $bin"
	mkdir -p "$BIN_DIR"
	if ! (cd "$src" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" . </dev/null >"$RUN_DIR/goaws-build.log" 2>&1); then
		tail -n 30 "$RUN_DIR/goaws-build.log" >&2
		die "building goaws failed (full log: $RUN_DIR/goaws-build.log)"
	fi
	mv -f "$bin.tmp" "$bin"
}

# ---------------------------------------------------------------- processes

pid_file() { echo "$RUN_DIR/$1.pid"; }
log_file() { echo "$RUN_DIR/$1.log"; }

# running_pid prints the recorded pid of an emulator when that process is
# alive and is the emulator; otherwise it prints nothing.
running_pid() {
	local f pid
	f=$(pid_file "$1")
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	[[ -r /proc/$pid/cmdline ]] || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(marker_of "$1")" || return 0
	echo "$pid"
}

# alive reports whether pid is a live (not zombie) process.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

healthy() {
	node "$HERE/health.js" "$(probe_of "$1")" "$(port_of "$1")" "$BIND" 2>/dev/null
}

port_open() {
	(exec 3<>"/dev/tcp/$BIND/$1") 2>/dev/null
}

# restore_kinesis_snapshot replaces a persisted kinesis-local file that does
# not parse (a write cut short at exit) by the copy drain.js kept at the end
# of the last drain.
restore_kinesis_snapshot() {
	local file="$RUN_DIR/kinesis-data/kinesis-data.json"
	[[ -f $file ]] || return 0
	if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "$file" 2>/dev/null; then
		if [[ -f $file.drained ]]; then
			echo "emulators: kinesis-local's saved streams were cut short; starting from the snapshot kept at its last stop" >&2
			cp "$file.drained" "$file"
		fi
	fi
}

# retry_from_snapshot handles kinesis-local refusing its saved streams at
# start-up although the file parses (seen rarely after a stop under load, as
# a java.util.NoSuchElementException while loading). Once per start: it
# keeps the refused file as kinesis-data.json.refused for a post-mortem and
# starts again from the snapshot drain.js kept at the last stop, or, when
# that snapshot is the same file, starts again as it is (the failure may
# not be in the data). It reports whether it started kinesis-local again.
retry_from_snapshot() {
	local name=$1 file="$RUN_DIR/kinesis-data/kinesis-data.json"
	[[ $name == kinesis-local && $PERSIST == 1 && -z ${RETRIED_SNAPSHOT:-} && -f $file ]] || return 1
	RETRIED_SNAPSHOT=1
	cp "$file" "$file.refused"
	if [[ -f $file.drained ]] && ! cmp -s "$file" "$file.drained"; then
		log "kinesis-local refused its saved streams (kept as $file.refused); starting again from the snapshot of its last stop"
		cp "$file.drained" "$file"
	else
		log "kinesis-local refused its saved streams (kept as $file.refused); starting it again once"
	fi
	rm -f "$(pid_file "$name")"
	launch "$name"
}

launch() {
	local name=$1 out KINESIS_PERSIST=false
	local -a dynalite_path=()
	out=$(log_file "$name")
	: >"$out"
	if [[ $PERSIST == 1 ]]; then
		KINESIS_PERSIST=true
		mkdir -p "$RUN_DIR/kinesis-data" "$RUN_DIR/dynalite-data"
		dynalite_path=(--path "$RUN_DIR/dynalite-data")
		[[ $name == kinesis-local ]] && restore_kinesis_snapshot
	fi
	case $name in
	kinesis-local)
		(
			cd "$HERE/node_modules/kinesis-local"
			exec env \
				KINESIS_MOCK_PLAIN_PORT="$KINESIS_PORT" \
				KINESIS_MOCK_TLS_PORT="$KINESIS_TLS_PORT" \
				WEATHERD_EMU_BIND="$BIND" \
				AWS_ACCOUNT_ID=000000000000 \
				AWS_REGION=us-east-1 \
				CREATE_STREAM_DURATION=50ms \
				DELETE_STREAM_DURATION=50ms \
				REGISTER_STREAM_CONSUMER_DURATION=50ms \
				DEREGISTER_STREAM_CONSUMER_DURATION=50ms \
				START_STREAM_ENCRYPTION_DURATION=50ms \
				STOP_STREAM_ENCRYPTION_DURATION=50ms \
				MERGE_SHARDS_DURATION=50ms \
				SPLIT_SHARD_DURATION=50ms \
				UPDATE_SHARD_COUNT_DURATION=50ms \
				UPDATE_STREAM_MODE_DURATION=50ms \
				SHARD_LIMIT=100000 \
				ON_DEMAND_STREAM_COUNT_LIMIT=10000 \
				SHOULD_PERSIST_DATA="$KINESIS_PERSIST" \
				LOAD_DATA_IF_EXISTS="$KINESIS_PERSIST" \
				PERSIST_PATH="$RUN_DIR/kinesis-data" \
				PERSIST_INTERVAL=1s \
				LOG_LEVEL=WARN \
				setsid node --require "$HERE/loopback.js" --require "$HERE/guard.js" --require "$HERE/drain.js" \
				"$HERE/node_modules/kinesis-local/main.js"
		) </dev/null >>"$out" 2>&1 9>&- &
		;;
	dynalite)
		(
			cd "$RUN_DIR"
			exec setsid node --require "$HERE/guard.js" "$HERE/node_modules/dynalite/cli.js" \
				--host "$BIND" --port "$DYNAMODB_PORT" "${dynalite_path[@]}" \
				--createTableMs 50 --deleteTableMs 50 --updateTableMs 50
		) </dev/null >>"$out" 2>&1 9>&- &
		;;
	s3rver)
		if [[ $PERSIST != 1 ]]; then
			rm -rf "$RUN_DIR/s3rver-data"
		fi
		mkdir -p "$RUN_DIR/s3rver-data"
		(
			cd "$RUN_DIR"
			# s3rver signs ListObjectsV2 continuation tokens with DES, which
			# OpenSSL 3 (Node 17+) only offers from its legacy provider:
			# without it every listing of more than one page answers 500.
			exec setsid node --openssl-legacy-provider --require "$HERE/guard.js" "$HERE/node_modules/s3rver/bin/s3rver.js" \
				-d "$RUN_DIR/s3rver-data" -a "$BIND" -p "$S3_PORT"
		) </dev/null >>"$out" 2>&1 9>&- &
		;;
	goaws)
		sed -e "s/^\([[:space:]]*Port:\).*/\1 $SNS_PORT/" \
			-e "s/^\([[:space:]]*Host:\).*/\1 $BIND/" \
			"$HERE/goaws.yaml" >"$RUN_DIR/goaws.yaml"
		(
			cd "$RUN_DIR"
			exec setsid "$BIN_DIR/goaws" -config "$RUN_DIR/goaws.yaml" -host "$BIND" Local
		) </dev/null >>"$out" 2>&1 9>&- &
		;;
	esac
	echo $! >"$(pid_file "$name")"
}

# start_one starts one emulator unless it is already up. It does not wait.
start_one() {
	local name=$1 port pid
	port=$(port_of "$name")
	pid=$(running_pid "$name")
	if [[ -n $pid ]]; then
		return 0 # wait_one checks it answers
	fi
	rm -f "$(pid_file "$name")"
	if port_open "$port"; then
		if healthy "$name"; then
			log "$name: port $port already answers (not started by this script: no pid file in $RUN_DIR); using it"
			return 0
		fi
		die "$name: port $port on $BIND is taken by another program; free it or set WEATHERD_EMU_$(env_key "$name")_PORT"
	fi
	launch "$name"
	STARTED+=("$name")
}

env_key() {
	case $1 in
	kinesis-local) echo KINESIS ;;
	dynalite) echo DYNAMODB ;;
	s3rver) echo S3 ;;
	goaws) echo SNS ;;
	esac
}

# wait_one waits until an emulator answers, or fails with the tail of its log.
wait_one() {
	local name=$1 port deadline pid
	port=$(port_of "$name")
	deadline=$((SECONDS + START_TIMEOUT))
	until healthy "$name"; do
		pid=$(running_pid "$name")
		if [[ -z $pid ]] && ! port_open "$port"; then
			log "$name exited during start-up; last lines of $(log_file "$name"):"
			tail -n 30 "$(log_file "$name")" >&2 || true
			if retry_from_snapshot "$name"; then
				deadline=$((SECONDS + START_TIMEOUT))
				continue
			fi
			die "$name did not start on $BIND:$port"
		fi
		if ((SECONDS >= deadline)); then
			log "$name does not answer on $BIND:$port after ${START_TIMEOUT}s; last lines of $(log_file "$name"):"
			tail -n 30 "$(log_file "$name")" >&2 || true
			die "$name did not become ready"
		fi
		sleep 0.2
	done
}

stop_one() {
	local name=$1 port pid deadline tries
	port=$(port_of "$name")
	pid=$(running_pid "$name")
	rm_pid() { rm -f "$(pid_file "$name")"; }
	if [[ -z $pid ]]; then
		rm_pid
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	tries=$((STOP_GRACE * 10))
	while alive "$pid" && ((tries-- > 0)); do
		sleep 0.1
	done
	if alive "$pid"; then
		log "$name (pid $pid) ignored SIGTERM for ${STOP_GRACE}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		while alive "$pid"; do sleep 0.1; done
	fi
	rm_pid
	deadline=$((SECONDS + 10))
	while port_open "$port"; do
		((SECONDS < deadline)) || die "$name stopped but port $port is still taken by another process"
		sleep 0.1
	done
	log "$name stopped (pid $pid)"
}

# ---------------------------------------------------------------- commands

lock() {
	mkdir -p "$RUN_DIR"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$RUN_DIR/.lock"
		flock -w 300 9 || die "another emulators.sh holds $RUN_DIR/.lock for more than 300s"
	fi
}

# select_names sets SELECTED to the emulators named by the arguments (all
# four without arguments), in start order.
select_names() {
	local arg name
	SELECTED=()
	if (($# == 0)); then
		SELECTED=("${NAMES[@]}")
		return 0
	fi
	for arg in "$@"; do
		case $arg in
		kinesis | kinesis-local) name=kinesis-local ;;
		dynamodb | dynalite) name=dynalite ;;
		s3 | s3rver) name=s3rver ;;
		sns | sqs | goaws) name=goaws ;;
		*)
			echo "$0: unknown emulator \"$arg\": want kinesis, dynamodb, s3 or sns" >&2
			exit 2
			;;
		esac
		[[ " ${SELECTED[*]} " == *" $name "* ]] || SELECTED+=("$name")
	done
}

cmd_start() {
	local t0=$SECONDS name
	lock
	need node "install Node.js 20 (apt-get install -y nodejs npm)"
	install_npm
	install_goaws
	STARTED=()
	for name in "${SELECTED[@]}"; do
		start_one "$name"
	done
	for name in "${SELECTED[@]}"; do
		wait_one "$name"
	done
	if ((${#STARTED[@]} == 0)); then
		log "all running (kinesis $KINESIS_PORT, dynamodb $DYNAMODB_PORT, s3 $S3_PORT, sns/sqs $SNS_PORT)"
	else
		log "started ${STARTED[*]} in $((SECONDS - t0))s (kinesis $KINESIS_PORT, dynamodb $DYNAMODB_PORT, s3 $S3_PORT, sns/sqs $SNS_PORT; logs in $RUN_DIR)"
	fi
}

cmd_stop() {
	local name
	lock
	for name in "${SELECTED[@]}"; do
		stop_one "$name"
	done
}

cmd_status() {
	local name pid state down=0
	mkdir -p "$RUN_DIR"
	printf '%-14s %-8s %-6s %s\n' EMULATOR PID PORT STATE
	for name in "${SELECTED[@]}"; do
		pid=$(running_pid "$name")
		if command -v node >/dev/null 2>&1 && healthy "$name"; then
			state=up
		else
			state=down
			down=1
		fi
		printf '%-14s %-8s %-6s %s\n' "$name" "${pid:--}" "$(port_of "$name")" "$state"
	done
	return "$down"
}

cmd=${1:-}
shift || true
case $cmd in
start | stop | status)
	select_names "$@"
	"cmd_$cmd"
	;;
*)
	echo "usage: $0 start|stop|status [kinesis|dynamodb|s3|sns ...]" >&2
	exit 2
	;;
esac
