#!/usr/bin/env bash
# A private one-host Slurm cluster for the tests and benchmarks of the Slurm backend.
#   scripts/slurm-local.sh start    start it (idempotent), wait until every node is idle,
#                                   print the `export SLURM_CONF=...` line to evaluate
#   scripts/slurm-local.sh status   wait (bounded) until every node is idle; exit 1 if not
#   scripts/slurm-local.sh stop     stop exactly the daemons it started, by their PIDs
#   scripts/slurm-local.sh kill-node nK    a node failure: SIGKILL nK's slurmd and the jobs it runs
#   scripts/slurm-local.sh revive-node nK  start nK's slurmd again (back to idle within ~10 s)
# Its own munged (own key and socket), one slurmctld and four slurmd (n1..n4, 2 CPUs each; n1
# and n2 with gres gpu:2 and feature gpu; licence arnold:4). Everything lives in
# build/slurm-local (or $SLURM_LOCAL_DIR); ports $SLURM_LOCAL_PORT_BASE (default 17000) .. +4.
# Tests source build/slurm-local/env, which exports SLURM_CONF. Needs root (SlurmUser=root).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${SLURM_LOCAL_DIR:-$root/build/slurm-local}
base=${SLURM_LOCAL_PORT_BASE:-17000}
host=$(hostname -s)
pids=$dir/pids

die() { echo "slurm-local: $*" >&2; exit 1; }

# A PID is ours and alive when it is listed in $pids and /proc says it is not a zombie
# (PID 1 here reaps orphans lazily, so kill -0 is not enough).
alive() {
  local pid=$1 state
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$pid/stat")
  [[ $state != Z ]]
}

all_alive() {
  [[ -s $pids ]] || return 1
  local name pid
  while read -r name pid; do alive "$pid" || return 1; done <"$pids"
  [[ $(wc -l <"$pids") -eq 6 ]]
}

write_config() {
  mkdir -p "$dir"/{state,spool,log,munge}
  cat >"$dir/slurm.conf" <<CONF
ClusterName=taskloom
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000
DependencyParameters=kill_invalid_depend
ReturnToService=2
SlurmdParameters=config_overrides
MailProg=/bin/true
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=task=1
JobCompType=jobcomp/none
MinJobAge=86400
MaxJobCount=20000
KillWait=2
OverTimeLimit=0
InactiveLimit=0
SlurmdTimeout=10
SlurmctldTimeout=10
MessageTimeout=10
GresTypes=gpu
Licenses=arnold:4
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 1)) CPUs=2 RealMemory=2000 Gres=gpu:2 Feature=cpu,gpu State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 2)) CPUs=2 RealMemory=2000 Gres=gpu:2 Feature=cpu,gpu State=UNKNOWN
NodeName=n3 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 3)) CPUs=2 RealMemory=2000 Feature=cpu State=UNKNOWN
NodeName=n4 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 4)) CPUs=2 RealMemory=2000 Feature=cpu State=UNKNOWN
PartitionName=debug Nodes=n[1-4] Default=YES MaxTime=INFINITE State=UP
CONF
  cat >"$dir/gres.conf" <<CONF
NodeName=n[1-2] Name=gpu File=/dev/tty[0-1]
CONF
  printf 'export SLURM_CONF=%s\n' "$dir/slurm.conf" >"$dir/env"
}

wait_idle() {
  local deadline=$((SECONDS + ${1:-30})) states
  export SLURM_CONF=$dir/slurm.conf
  while ((SECONDS < deadline)); do
    states=$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u || true)
    if [[ $(grep -c ' idle$' <<<"$states") -eq 4 ]]; then return 0; fi
    sleep 0.3
  done
  echo "slurm-local: nodes not idle after ${1:-30}s:" >&2
  echo "$states" >&2
  return 1
}

start_daemon() {  # name, command...
  local name=$1; shift
  "$@" >>"$dir/log/$name.stdout" 2>&1 &
  echo "$name $!" >>"$pids"
}

start() {
  if all_alive; then
    wait_idle 30
    cat "$dir/env"
    return 0
  fi
  [[ ! -s $pids ]] || stop >&2  # stdout is the env line only
  [[ $(id -u) -eq 0 ]] || die "needs root (SlurmUser=root); run it as root"
  for exe in munged mungekey slurmctld slurmd sinfo; do
    command -v "$exe" >/dev/null || PATH=$PATH:/usr/sbin command -v "$exe" >/dev/null ||
      die "$exe not found: run scripts/install-deps.sh (packages slurmctld slurmd slurm-client munge)"
  done
  write_config
  : >"$pids"
  rm -f "$dir"/*.pid "$dir/munge/munged.pid"
  [[ -s $dir/munge/munge.key ]] || { /usr/sbin/mungekey -c -f -k "$dir/munge/munge.key"; }
  chmod 0700 "$dir/munge"; chmod 0400 "$dir/munge/munge.key"
  start_daemon munged /usr/sbin/munged -F -f --socket="$dir/munge/munge.socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
  local i
  for i in $(seq 50); do [[ -S $dir/munge/munge.socket ]] && break; sleep 0.1; done
  [[ -S $dir/munge/munge.socket ]] || die "munged did not start; see $dir/log/munged.log"
  export SLURM_CONF=$dir/slurm.conf
  start_daemon slurmctld /usr/sbin/slurmctld -D -c -f "$dir/slurm.conf"
  for n in n1 n2 n3 n4; do
    mkdir -p "$dir/spool/$n"
    start_daemon "slurmd-$n" /usr/sbin/slurmd -D -N "$n" -f "$dir/slurm.conf"
  done
  wait_idle 30 || { tail -n 20 "$dir"/log/*.log >&2; die "cluster did not come up; logs in $dir/log"; }
  cat "$dir/env"
}

stop() {
  [[ -s $pids ]] || { echo "slurm-local: not running (no $pids)"; return 0; }
  local name pid
  while read -r name pid; do alive "$pid" && kill -TERM "$pid" 2>/dev/null || true; done <"$pids"
  local deadline=$((SECONDS + 10)) left
  while ((SECONDS < deadline)); do
    left=0
    while read -r name pid; do alive "$pid" && left=1; done <"$pids"
    ((left)) || break
    sleep 0.2
  done
  while read -r name pid; do alive "$pid" && kill -KILL "$pid" 2>/dev/null || true; done <"$pids"
  : >"$pids"
  echo "slurm-local: stopped"
}

# A node failure of fake node $1: its slurmd and every job step it runs (the slurmstepd whose
# batch script lives in the node's spool directory, with the script's process group) get SIGKILL.
kill_node() {
  local node=$1 name pid stepd child
  [[ $node =~ ^n[1-4]$ ]] || die "kill-node: name a node n1..n4"
  pid=$(awk -v n="slurmd-$node" '$1 == n {print $2}' "$pids")
  [[ -n $pid ]] && alive "$pid" || die "kill-node: slurmd of $node is not running"
  kill -KILL "$pid"
  for stepd in $(pgrep -x slurmstepd || true); do
    for child in $(pgrep -P "$stepd" || true); do
      if tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null | grep -q "$dir/spool/$node/"; then
        kill -KILL -- "-$(ps -o pgid= -p "$child" | tr -d ' ')" 2>/dev/null || true
        kill -KILL "$stepd" 2>/dev/null || true
      fi
    done
  done
  echo "slurm-local: killed $node (slurmd $pid and its job steps)"
}
revive_node() {
  local node=$1
  [[ $node =~ ^n[1-4]$ ]] || die "revive-node: name a node n1..n4"
  export SLURM_CONF=$dir/slurm.conf
  sed -i "/^slurmd-$node /d" "$pids"
  start_daemon "slurmd-$node" /usr/sbin/slurmd -D -N "$node" -f "$dir/slurm.conf"
  echo "slurm-local: started slurmd of $node again"
}

status() {
  all_alive || { echo "slurm-local: not running (see $pids)"; return 1; }
  wait_idle "${SLURM_LOCAL_WAIT:-30}"
  export SLURM_CONF=$dir/slurm.conf
  sinfo -N -o '%N %t %c %G %f'
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  kill-node) kill_node "${2:-}" ;;
  revive-node) revive_node "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|kill-node nK|revive-node nK (see its top)" >&2; exit 2 ;;
esac
