#!/usr/bin/env bash
# A throwaway single-node SLURM cluster on localhost, for testing the `slurm` profile (tests/test_slurm.py).
#
#   scripts/local_slurm.sh start DIR   # start munged, MariaDB, slurmdbd, slurmctld, slurmd; wait until the node is idle
#   scripts/local_slurm.sh stop DIR    # cancel remaining jobs and stop the daemons by their pid files
#
# Everything (configuration, state, spool, database, logs, pid files, sockets) lives under DIR, which must
# be reachable by the `munge` user (e.g. a 0755 directory under /tmp). While the cluster runs,
# /etc/slurm/slurm.conf is a symlink to DIR/etc/slurm.conf, so sbatch, squeue, sacct and the srun that
# snakemake-executor-plugin-slurm runs inside each job find it without SLURM_CONF, as on a real cluster
# (the plugin removes SLURM_CONF from that srun's environment). `start` refuses to replace an
# /etc/slurm/slurm.conf it did not create; `stop` removes the symlink.
# Needs root and the packages of scripts/install_slurm.sh. The node's layout comes from `slurmd -C`.
# Accounting runs through slurmdbd + MariaDB, as on a production cluster, so `sacct` (the status command
# snakemake-executor-plugin-slurm prefers) works. No systemd and no cgroups are needed
# (proctrack/linuxproc, task/none). Daemons outlive this script: always run `stop` afterwards.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION=$1
case $ACTION in
start) mkdir -p "$2" ;;
stop) [ -d "$2" ] || { echo "local_slurm: nothing to stop, $2 does not exist" >&2; exit 0; } ;;
*) usage ;;
esac
DIR=$(cd "$2" && pwd)
ETC=$DIR/etc RUN=$DIR/run LOG=$DIR/log
export SLURM_CONF=$ETC/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf
HEADER="# Single-node test cluster written by scripts/local_slurm.sh"
WAIT_S=${LOCAL_SLURM_WAIT_S:-60}
DAEMONS=(munged mariadb slurmdbd slurmctld slurmd)

log() { echo "local_slurm: $*" >&2; }

fail() {  # fail MESSAGE [LOGFILE]: report, show the log's tail, stop whatever was started
    log "ERROR: $1"
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        log "last lines of $2:"
        tail -n 25 "$2" | sed 's/^/    /' >&2
    fi
    stop_all || true
    exit 1
}

wait_for() {  # wait_for WHAT LOGFILE COMMAND...: poll COMMAND every 0.2 s for up to WAIT_S seconds
    local what=$1 logfile=$2 deadline=$((SECONDS + WAIT_S))
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "$what not ready after ${WAIT_S}s" "$logfile"
        sleep 0.2
    done
}

pid_file() {  # where daemon NAME records its pid (munged writes into its own, munge-owned folder)
    if [ "$1" = munged ]; then echo "$DIR/munge/munged.pid"; else echo "$RUN/$1.pid"; fi
}

pid_of() {  # the live pid of daemon NAME, from its pid file, or nothing
    local f pid
    f=$(pid_file "$1")
    [ -s "$f" ] || return 1
    pid=$(tr -dc 0-9 <"$f")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

spawn() {  # spawn LOGFILE COMMAND...: detached from this shell and its pipes (callers may capture our output)
    local logfile=$1
    shift
    setsid "$@" </dev/null >>"$logfile" 2>&1 &
}

link_system_conf() {  # /etc/slurm/slurm.conf -> DIR/etc/slurm.conf, unless that path is someone else's
    if [ -L "$SYSTEM_CONF" ] || [ -e "$SYSTEM_CONF" ]; then
        local target other
        target=$(readlink "$SYSTEM_CONF" || true)
        if [ -z "$target" ]; then
            fail "$SYSTEM_CONF exists and was not written by $0; refusing to replace it"
        elif [ -e "$target" ]; then
            head -n 1 "$target" | grep -qF "$HEADER" ||
                fail "$SYSTEM_CONF links to $target, not written by $0; refusing to replace it"
            other=$(dirname "$(dirname "$target")")
            if [ "$other" != "$DIR" ] && [ -s "$other/run/slurmctld.pid" ] &&
                kill -0 "$(tr -dc 0-9 <"$other/run/slurmctld.pid")" 2>/dev/null; then
                fail "another local cluster runs under $other; run '$0 stop $other' first"
            fi
        fi
        rm -f "$SYSTEM_CONF"  # ours, from a cluster that is gone
    fi
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -s "$ETC/slurm.conf" "$SYSTEM_CONF"
}

unlink_system_conf() {
    if [ -L "$SYSTEM_CONF" ] && [ "$(readlink "$SYSTEM_CONF")" = "$ETC/slurm.conf" ]; then
        rm -f "$SYSTEM_CONF"
    fi
}

stop_all() {
    # Jobs first, so that no slurmstepd outlives slurmd.
    if pid_of slurmctld >/dev/null; then
        scancel --quiet --full --user "$(id -un)" 2>/dev/null || true
        local deadline=$((SECONDS + 30))
        while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    fi
    # in stages, each daemon of a stage at once: SLURM's own, then the accounting daemon (slurmctld
    # flushes its records to it), then what they authenticate and store through
    terminate slurmd slurmctld
    terminate slurmdbd
    terminate mariadb munged
    unlink_system_conf
}

terminate() {  # terminate NAME...: SIGTERM, up to 15 s to exit, then SIGKILL; forget the pid files
    local name pid pids=() i
    for name in "$@"; do
        if pid=$(pid_of "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$name:$pid")
        fi
        rm -f "$(pid_file "$name")"
    done
    for i in $(seq 150); do
        local alive=0 entry
        for entry in "${pids[@]}"; do kill -0 "${entry#*:}" 2>/dev/null && alive=1; done
        [ $alive -eq 1 ] || return 0
        sleep 0.1
    done
    for entry in "${pids[@]}"; do
        if kill -0 "${entry#*:}" 2>/dev/null; then
            log "${entry%%:*} (pid ${entry#*:}) ignored SIGTERM for 15 s; killing it"
            kill -KILL "${entry#*:}" 2>/dev/null || true
        fi
    done
}

start_all() {
    local name
    for name in "${DAEMONS[@]}"; do
        if pid_of "$name" >/dev/null; then
            log "ERROR: $name is already running under $DIR; run '$0 stop $DIR' first"
            exit 1
        fi
    done
    [ "$(id -u)" -eq 0 ] || { log "ERROR: must run as root (slurmd and munged need it)"; exit 1; }
    for name in runuser munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sbatch sacctmgr; do
        command -v "$name" >/dev/null || { log "ERROR: $name not found; run scripts/install_slurm.sh"; exit 1; }
    done
    chmod 755 "$DIR"
    if ! runuser -u munge -- test -x "$DIR"; then
        log "ERROR: user munge cannot reach $DIR; use a directory whose parents are world-executable (e.g. under /tmp)"
        exit 1
    fi
    local start=$SECONDS
    rm -rf "$DIR/munge" "$DIR/mysql" "$DIR/state" "$DIR/spool"
    mkdir -p "$ETC" "$RUN" "$LOG" "$DIR/state" "$DIR/spool" "$DIR/munge"

    # munge: a fresh key, owned and run by the munge user
    local socket=$DIR/munge/munge.socket.2
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
    chown -R munge:munge "$DIR/munge"
    chmod 755 "$DIR/munge"
    runuser -u munge -- munged --socket="$socket" --key-file="$DIR/munge/munge.key" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
        --seed-file="$DIR/munge/munged.seed" </dev/null >>"$LOG/munged.out" 2>&1 ||
        fail "munged did not start" "$DIR/munge/munged.log"
    wait_for munged "$DIR/munge/munged.log" bash -c "munge -n -S '$socket' | unmunge -S '$socket'"

    # MariaDB for slurmdbd, on a free localhost port
    local db_port dbd_port ctld_port slurmd_port
    db_port=$(free_port) dbd_port=$(free_port) ctld_port=$(free_port) slurmd_port=$(free_port)
    mariadb-install-db --no-defaults --user=root --datadir="$DIR/mysql" --auth-root-authentication-method=normal \
        --innodb-log-file-size=16M \
        --skip-test-db >"$LOG/mariadb-install.log" 2>&1 || fail "mariadb-install-db failed" "$LOG/mariadb-install.log"
    spawn "$LOG/mariadb.out" mariadbd --no-defaults --user=root --datadir="$DIR/mysql" \
        --socket="$RUN/mysqld.sock" --pid-file="$RUN/mariadb.pid" --port="$db_port" --bind-address=127.0.0.1 \
        --log-error="$LOG/mariadb.log" --innodb-buffer-pool-size=128M --innodb-log-file-size=16M --innodb-lock-wait-timeout=900
    wait_for MariaDB "$LOG/mariadb.log" mariadb-admin --no-defaults --socket="$RUN/mysqld.sock" -uroot ping
    mariadb --no-defaults --socket="$RUN/mysqld.sock" -uroot -e \
        "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
        fail "could not create the slurm database user" "$LOG/mariadb.log"

    # configuration: this node as slurmd -C sees it, reached on 127.0.0.1
    local node_line node host
    node_line=$(slurmd -C | head -n 1)
    node=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node_line")
    host=$(hostname)
    [ -n "$node" ] || fail "cannot parse 'slurmd -C': $node_line"
    cat >"$ETC/slurm.conf" <<EOF
$HEADER; all state lives under $DIR.
ClusterName=localtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MailProg=/bin/true
# Finished jobs stay visible to squeue for 5 minutes (what --slurm-status-command=squeue would need).
MinJobAge=300
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
# clients authenticate to slurmdbd through the munge socket named here (AuthInfo covers the other daemons)
AccountingStoragePass=$socket
# keep the plugin's per-job comment (rule_<rule>_wildcards_<...>) in sacct
AccountingStoreFlags=job_comment
$node_line NodeAddr=127.0.0.1 NodeHostname=$host State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
PidFile=$RUN/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$ETC/slurmdbd.conf"
    link_system_conf

    spawn "$LOG/slurmdbd.out" slurmdbd
    wait_for slurmdbd "$LOG/slurmdbd.log" sacctmgr -n list cluster
    sacctmgr -i -Q add cluster localtest >>"$LOG/sacctmgr.out" 2>&1 || true
    spawn "$LOG/slurmctld.out" slurmctld
    wait_for slurmctld "$LOG/slurmctld.log" scontrol ping
    spawn "$LOG/slurmd.out" slurmd -N "$node"
    wait_for "node $node" "$LOG/slurmd.log" bash -c "sinfo -h -n '$node' -o %T | grep -qx idle"
    log "ready in $((SECONDS - start)) s: node $node idle ($(sed -n 's/.*\(CPUs=[0-9]*\).*\(RealMemory=[0-9]*\).*/\1 \2/p' <<<"$node_line")); $SYSTEM_CONF -> $SLURM_CONF"
}

case $ACTION in
start) start_all ;;
stop) stop_all; log "stopped the daemons under $DIR" ;;
*) usage ;;
esac
