#!/bin/bash
# CPU seconds used so far by each progressive-hedging MPI rank, one line every
# ${1:-10} seconds: "HH:MM:SS r0:S r1:S r2:S" (utime + stime from /proc, rank from
# OMPI_COMM_WORLD_RANK; r0 is the PH hub, r1 the Lagrangian spoke, r2 the xhat spoke).
# Run it beside `python -m benchmarks.stochastic --methods ph ...`; stop it with Ctrl-C.
# Linux and Open MPI only.
tick=$(getconf CLK_TCK)
while true; do
  line="$(date +%H:%M:%S)"
  for pid in $(pgrep -f "m channel_opt.solving.stochastic_ph" | sort -n); do
    rank=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
    [ -n "$rank" ] || continue  # mpiexec itself
    cpu=$(awk -v t="$tick" '{print ($14 + $15) / t}' "/proc/$pid/stat" 2>/dev/null)
    line="$line r$rank:$cpu"
  done
  echo "$line"
  sleep "${1:-10}"
done
