#!/usr/bin/env python3
"""Install the repository's SLURM profile as your `slurm` Snakemake profile, so that
`snakemake --profile slurm` finds it from the repository root.

    python3 scripts/install_slurm_profile.py        # account/partition from $SLURM_ACCOUNT/$SLURM_PARTITION
    python3 scripts/install_slurm_profile.py --account A --partition P   # fixed values instead

Writes $XDG_CONFIG_HOME/snakemake/slurm/profile.yaml (~/.config/... when XDG_CONFIG_HOME is unset), or under
--dest. Idempotent: rerunning rewrites the same file. A config.yaml left there by an older installation would
compete with profile.yaml (Snakemake picks one of the two arbitrarily), so it is renamed to config.yaml.old.
Standard library only.
"""

import argparse
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "workflow" / "profiles" / "slurm" / "profile.yaml"


def default_dest() -> Path:
    # what platformdirs (Snakemake's user_config_dir) resolves on Linux; an empty XDG_CONFIG_HOME is unset
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "snakemake" / "slurm"


def render(text: str, account: str | None, partition: str | None) -> str:
    """The profile with the environment look-up of account/partition replaced by fixed values where given."""
    for name, value in (("account", account), ("partition", partition)):
        if value is None:
            continue
        pattern = re.compile(rf'^(\s*- {name} = )os\.environ\.get\("SLURM_{name.upper()}", ""\)$', re.M)
        text, n = pattern.subn(lambda m, value=value: m.group(1) + repr(value), text)
        if n != 1:
            sys.exit(f"error: cannot find the '{name} = os.environ.get(...)' line in {SOURCE}")
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--account", help="SLURM account to charge (default: $SLURM_ACCOUNT at run time)")
    parser.add_argument("--partition", help="SLURM partition (default: $SLURM_PARTITION at run time)")
    parser.add_argument(
        "--dest",
        type=Path,
        help="profile directory to write (default: $XDG_CONFIG_HOME/snakemake/slurm)",
        default=None,
    )
    args = parser.parse_args(argv)
    for name in ("account", "partition"):
        value = getattr(args, name)
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.\-]+", value):
            parser.error(f"--{name} {value!r}: use letters, digits, '_', '.', '-'")

    dest = args.dest or default_dest()
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "profile.yaml"
    text = render(SOURCE.read_text(), args.account, args.partition)
    state = "unchanged" if target.exists() and target.read_text() == text else "written"
    if state == "written":
        tmp = target.with_suffix(".yaml.tmp")
        tmp.write_text(text)
        tmp.replace(target)
    stale = dest / "config.yaml"
    if stale.exists():
        stale.replace(dest / "config.yaml.old")
        print(f"renamed the older {stale} to config.yaml.old (profile.yaml replaces it)")
    account = args.account or "$SLURM_ACCOUNT"
    partition = args.partition or "$SLURM_PARTITION"
    print(f"slurm profile {state}: {target} (account {account}, partition {partition})")
    print("run from the repository root: snakemake --profile slurm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
