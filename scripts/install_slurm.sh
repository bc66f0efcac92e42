#!/usr/bin/env bash
# Install the Debian packages for a single-node SLURM test cluster (scripts/local_slurm.sh runs it):
# slurmctld, slurmd, the client commands, munge, and slurmdbd with MariaDB so that `sacct` works as on a
# real cluster. Idempotent: does nothing when everything is installed already. Needs root (or sudo) and apt.
set -euo pipefail
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "SLURM packages already installed: ${PACKAGES[*]}"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# The packages' own service start fails without systemd (and is not wanted): deny it while installing.
# policy-rc.d is only written when absent, and removed again afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
fi
trap '[ "$own_policy" -eq 1 ] && $SUDO rm -f "$policy"' EXIT

echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
echo "installed: $(slurmctld -V), munge $(dpkg-query -W -f='${Version}' munge), $(mariadbd --version 2>/dev/null | cut -d' ' -f2-4)"
