# Shared by scripts/kill-loop, scripts/soak and scripts/hostile (sourced, not run): finds the
# peerdist binary, isolates the run in a network namespace of its own, starts and tracks the
# processes it kills, samples a process's memory and descriptors, and cleans everything up on exit.
#
# Environment:
#   PEERDIST_BINARY        the binary to test (default: .build/release/peerdist, built when the
#                          sources are newer, as scripts/peerdist does)
#   PEERDIST_STRESS_NETNS  0 to run on the host's network instead of a private namespace
#   PEERDIST_STRESS_KEEP   1 to keep the work directory (logs, trees) after the run

stress_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Prints the peerdist binary to test: $PEERDIST_BINARY, else the release build of this checkout,
# (re)built the way scripts/peerdist does.
stress_locate_binary() {
    if [[ -n "${PEERDIST_BINARY:-}" ]]; then
        [[ -x "$PEERDIST_BINARY" ]] || { echo "PEERDIST_BINARY=$PEERDIST_BINARY is not executable" >&2; return 1; }
        echo "$PEERDIST_BINARY"
        return
    fi
    "$stress_root/scripts/install-dependencies" >&2
    local binary="$stress_root/.build/release/peerdist"
    if [[ ! -x "$binary" ]] || [[ -n "$(find "$stress_root/Sources" "$stress_root/Package.swift" -newer "$binary" -print -quit)" ]]; then
        echo "building peerdist (release)…" >&2
        swift build --package-path "$stress_root" -c release --product peerdist >&2
    fi
    echo "$binary"
}

# Re-runs the calling script in a network namespace of its own (as root, with unshare), so that
# its nodes neither hear nor disturb other PeerDist nodes on this host: loopback plus a veth pair,
# which gives LAN discovery a multicast link. Call as `stress_isolate "$0" "$@"` before anything else.
stress_isolate() {
    local script="$1"
    shift
    if [[ "${PEERDIST_STRESS_NETNS:-}" == "inside" ]]; then
        ip link set lo up
        ip link add pd0 type veth peer name pd1
        ip link set pd0 up
        ip link set pd1 up
        # Link-local addresses appear once duplicate address detection is done.
        local i
        for ((i = 0; i < 50; i++)); do
            [[ -n "$(ip -6 addr show dev pd0 scope link -tentative)" ]] && break
            sleep 0.1
        done
        return
    fi
    [[ "${PEERDIST_STRESS_NETNS:-}" == "0" ]] && return
    if [[ $(id -u) -ne 0 ]] || ! command -v unshare >/dev/null; then
        echo "note: not root or no unshare: running on the host's network" >&2
        return
    fi
    PEERDIST_BINARY="$(stress_locate_binary)"
    export PEERDIST_BINARY PEERDIST_STRESS_NETNS=inside
    exec unshare --net -- "$script" "$@"
}

# Creates $work (on /dev/shm, so the disk is not what is measured) and the exit trap that stops
# every tracked process and removes it.
stress_setup() {
    local name="$1"
    binary="$(stress_locate_binary)"
    work="$(mktemp -d "/dev/shm/peerdist-$name.XXXXXX")"
    tracked=()
    started_at=$SECONDS
    trap stress_cleanup EXIT
    trap 'echo "interrupted" >&2; exit 130' INT TERM
}

stress_cleanup() {
    local status=$?
    local pid
    for pid in "${tracked[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    for pid in "${tracked[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${PEERDIST_STRESS_KEEP:-}" == "1" ]]; then
        echo "kept $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}

# `spawn LOG peerdist-arguments…`: starts the binary in the background with its output in LOG;
# the new process's id is in $spawned (and is tracked for the cleanup).
spawn() {
    local log="$1"
    shift
    # Emptied here, not by the background child's redirection: a reader must never see what a
    # previous process wrote to the same log.
    : >"$log"
    "$binary" "$@" >>"$log" 2>&1 &
    spawned=$!
    tracked+=("$spawned")
}

# Forgets a process that has been waited for (its id may be reused).
untrack() {
    local pid="$1" kept=() p
    for p in "${tracked[@]}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
    tracked=("${kept[@]}")
}

# SIGKILLs a tracked process and reaps it; prints nothing (bash's "Killed" notice is muted).
kill9() {
    local pid="$1"
    kill -9 "$pid" 2>/dev/null || true
    { wait "$pid"; } 2>/dev/null || true
    untrack "$pid"
}

# Exit status of a tracked process that has ended (reaps it).
reap() {
    local pid="$1" status=0
    { wait "$pid"; } 2>/dev/null || status=$?
    untrack "$pid"
    return "$status"
}

alive() { kill -0 "$1" 2>/dev/null; }

# `wait_listening LOG PID`: waits for a node started by spawn to print its listening address and
# prints the port.
wait_listening() {
    local log="$1" pid="$2" i port
    for ((i = 0; i < 300; i++)); do
        port="$(awk 'match($0, /(listening on|serving on) \[[^]]*\]:[0-9]+/) {
            address = substr($0, RSTART, RLENGTH); sub(/.*\]:/, "", address); print address; exit }' "$log")"
        if [[ -n "$port" ]]; then
            echo "$port"
            return
        fi
        alive "$pid" || { echo "the node exited before listening:" >&2; cat "$log" >&2; return 1; }
        sleep 0.05
    done
    echo "the node did not start listening within 15 s:" >&2
    cat "$log" >&2
    return 1
}

# `random_between LOW HIGH`: a random decimal number of seconds in [LOW, HIGH].
random_between() {
    awk -v low="$1" -v high="$2" -v seed="$RANDOM$RANDOM" 'BEGIN { srand(seed); printf "%.3f\n", low + rand() * (high - low) }'
}

# Resident memory of a process in KiB, and its open descriptors.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# `json_field FIELD-PATH`: reads JSON on standard input and prints a field, e.g. counters.block_bytes_sent.
json_field() {
    python3 -c '
import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$1"
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
elapsed() { echo "$((SECONDS - started_at)) s"; }
