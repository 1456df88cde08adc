#!/bin/sh
# install.sh: installs meshctl on this host from a checkout (or an unpacked
# meshctl package), with the Node.js 24 runtime it runs on (the npm `node`
# package), so that the host needs nothing but an npm to bootstrap.
#
#   ./install.sh [--prefix DIR] [--bin-dir DIR] [--no-system-packages] [--verbose]
#   ./install.sh --uninstall [--prefix DIR]
#
# How: build dist/ in the checkout if it is missing or older than src/, `npm
# pack` it, then in a staging directory beside the prefix `npm ci --omit=dev`
# the tarball against the checkout's package-lock.json (the exact, integrity-
# checked versions CI tested, the runtime among them), check that the staged
# meshctl runs, write a manifest and rename the staging directory onto the
# prefix. Last, link BIN_DIR/meshctl to PREFIX/node_modules/meshctl/bin/meshctl.
# Nothing is in place until that rename, so a failure leaves the previous
# install (or none) as it was. --uninstall removes what the manifest lists: the
# prefix and the link, nothing else.
set -eu

PROG=install.sh
MANIFEST_NAME=install-manifest
PACKAGE=meshctl

usage() {
  cat <<'EOF'
Usage: install.sh [options]
       install.sh --uninstall [--prefix DIR]

Installs meshctl (with its own Node.js 24 runtime from the npm registry) into
PREFIX, links BIN_DIR/meshctl to it, and installs iptables with the system's
package manager (apt-get, dnf or yum) when it is missing. Run it from a meshctl
checkout; it needs npm, and root only for the default paths and for iptables.
Running it again replaces the install in one step.

Options:
  --prefix DIR            install directory (default /opt/meshctl)
  --bin-dir DIR           where the meshctl link goes; must exist
                          (default /usr/local/bin)
  --no-system-packages    do not install iptables, even when it is missing
  --uninstall             remove what install.sh installed in PREFIX (the
                          directory and the link its manifest names)
  --verbose               show npm's and the package manager's output
  -h, --help              show this help

Examples:
  sudo ./install.sh
  ./install.sh --prefix ~/.local/opt/meshctl --bin-dir ~/.local/bin --no-system-packages
  sudo ./install.sh --uninstall
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() {
  printf '%s: error: %s (see %s --help)\n' "$PROG" "$*" "$PROG" >&2
  exit 2
}

prefix=/opt/meshctl
bin_dir=/usr/local/bin
mode=install
system_packages=1
verbose=0

need_value() { [ "$2" -ge 2 ] || usage_error "$1 needs a directory"; }
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) need_value "$1" $#; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --bin-dir) need_value "$1" $#; bin_dir=$2; shift 2 ;;
    --bin-dir=*) bin_dir=${1#*=}; shift ;;
    --uninstall) mode=uninstall; shift ;;
    --no-system-packages) system_packages=0; shift ;;
    --verbose) verbose=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
done

# An absolute path without trailing slashes (symlinks are kept as given).
absolute() {
  case $1 in
    '') usage_error "an empty directory name was given" ;;
    *'
'*) usage_error "directory names with a newline are not supported" ;;
    /*) p=$1 ;;
    *) p=$(pwd)/$1 ;;
  esac
  while :; do
    case $p in
      ?*/) p=${p%/} ;;
      *) break ;;
    esac
  done
  printf '%s\n' "$p"
}
prefix=$(absolute "$prefix")
bin_dir=$(absolute "$bin_dir")
[ "$prefix" != / ] || usage_error "--prefix / would replace the whole file system; give a directory of its own, such as /opt/meshctl"
manifest=$prefix/$MANIFEST_NAME
link=$bin_dir/meshctl
target=$prefix/node_modules/$PACKAGE/bin/meshctl

# --- temporary files, removed on every exit ----------------------------------
work=
staging=
old=
keep_log=
cleanup() {
  status=$?
  if [ -n "$keep_log" ] && [ -n "$work" ] && [ -f "$work/install.log" ]; then
    saved=${TMPDIR:-/tmp}/meshctl-install-$$.log
    cp "$work/install.log" "$saved" 2>/dev/null && printf '%s: the whole log is in %s\n' "$PROG" "$saved" >&2
  fi
  [ -z "$staging" ] || rm -rf "$staging"
  [ -z "$work" ] || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Runs "$@" in directory $1, its output going to the log unless --verbose.
run_in() {
  dir=$1
  shift
  printf '\n$ (cd %s && %s)\n' "$dir" "$*" >>"$work/install.log"
  if [ "$verbose" = 1 ]; then
    (cd "$dir" && "$@")
  else
    (cd "$dir" && "$@") >>"$work/install.log" 2>&1
  fi
}
# Names the step that failed and how to fix it, shows the end of the log, exits 1.
step_failed() {
  if [ "$verbose" = 0 ]; then
    printf '%s: the last lines of its output:\n' "$PROG" >&2
    grep -v 'EBADENGINE' "$work/install.log" | tail -n 25 | sed 's/^/  | /' >&2
    keep_log=1
  fi
  die "$1"
}

manifest_values() { # KEY FILE: every value recorded under KEY
  while IFS= read -r line; do
    case $line in "$1 "*) printf '%s\n' "${line#"$1 "}" ;; esac
  done <"$2"
}
manifest_value() { manifest_values "$1" "$2" | head -n 1; }

# Is $1 a symlink whose target is exactly $2?
links_to() { [ -L "$1" ] && [ "$(readlink "$1")" = "$2" ]; }

# =============================================================================
uninstall() {
  if [ ! -f "$manifest" ]; then
    if [ -e "$prefix" ] || [ -L "$prefix" ]; then
      die "$prefix has no $MANIFEST_NAME, so install.sh did not install it; not removing it (give --prefix the directory install.sh installed into)"
    fi
    if links_to "$link" "$target"; then
      rm -f "$link"
      say "removed $link (it pointed to $target, which is gone)"
    fi
    say "nothing to uninstall: meshctl is not installed in $prefix"
    return 0
  fi
  version=$(manifest_value version "$manifest")
  recorded_link=$(manifest_value link "$manifest")
  recorded_target=$(manifest_value link_target "$manifest")
  system_packages_installed=$(manifest_values system_package "$manifest")
  if [ -n "$recorded_link" ]; then
    if links_to "$recorded_link" "$recorded_target"; then
      rm -f "$recorded_link" || die "cannot remove $recorded_link (run as root, e.g. sudo $0 --uninstall)"
      say "removed the link $recorded_link"
    elif [ -e "$recorded_link" ] || [ -L "$recorded_link" ]; then
      warn "left $recorded_link in place: it no longer points to $recorded_target, so something else put it there"
    fi
  fi
  # Rename first, then delete: an interrupted removal leaves no half tree at $prefix.
  removing=$prefix.removing.$$
  mv "$prefix" "$removing" || die "cannot remove $prefix (run as root, e.g. sudo $0 --uninstall)"
  rm -rf "$removing"
  say "removed $prefix (meshctl ${version:-of unknown version})"
  for pkg in $system_packages_installed; do
    say "left ${pkg%%:*} in place: install.sh installed it with ${pkg#*:}, but other software may use it by now (remove it with ${pkg#*:} if nothing needs it)"
  done
  say "meshctl is uninstalled"
}

# =============================================================================
have_iptables() {
  command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ]
}

install_iptables() {
  if have_iptables; then
    return 0
  fi
  if [ "$system_packages" = 0 ]; then
    say "iptables is missing; not installing it (--no-system-packages). meshctl's transparent proxying needs it"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "iptables is missing and installing it needs root (run as root, e.g. sudo $0, or install iptables yourself and pass --no-system-packages)"
  if command -v apt-get >/dev/null 2>&1; then
    say "installing iptables (apt-get install iptables)"
    export DEBIAN_FRONTEND=noninteractive
    if ! run_in / apt-get install -y --no-install-recommends iptables; then
      # Usually a fresh machine whose package lists were never fetched.
      run_in / apt-get update && run_in / apt-get install -y --no-install-recommends iptables ||
        step_failed "apt-get could not install iptables (check the output above and the host's apt sources, or install iptables yourself and pass --no-system-packages)"
    fi
    installed_with=apt-get
  elif command -v dnf >/dev/null 2>&1; then
    say "installing iptables (dnf install iptables)"
    run_in / dnf install -y iptables ||
      step_failed "dnf could not install iptables (check the output above, or install iptables yourself and pass --no-system-packages)"
    installed_with=dnf
  elif command -v yum >/dev/null 2>&1; then
    say "installing iptables (yum install iptables)"
    run_in / yum install -y iptables ||
      step_failed "yum could not install iptables (check the output above, or install iptables yourself and pass --no-system-packages)"
    installed_with=yum
  else
    die "iptables is missing and no apt-get, dnf or yum was found to install it (install iptables with the host's package manager, then run install.sh again, or pass --no-system-packages)"
  fi
  have_iptables || die "$installed_with reported success but iptables is still not found (install it by hand, then run install.sh again with --no-system-packages)"
  system_packages_installed="iptables:$installed_with"
  say "installed iptables with $installed_with"
}

# The checkout's dist/ is what gets packed: build it when it is missing or
# older than a source file.
build_if_needed() {
  reason=
  if [ ! -f "$src/dist/cli/main.js" ]; then
    reason="dist/ is missing"
  elif [ -d "$src/src" ] && [ -n "$(find "$src/src" "$src/tsconfig.json" -newer "$src/dist/cli/main.js" -print 2>/dev/null | head -n 1)" ]; then
    reason="dist/ is older than src/"
  fi
  [ -n "$reason" ] || return 0
  [ -d "$src/src" ] && [ -f "$src/tsconfig.json" ] ||
    die "$reason and there are no sources to build it from in $src (run install.sh from a meshctl checkout)"
  if [ ! -x "$src/node_modules/.bin/tsc" ]; then
    say "installing the build's dependencies in $src (npm ci)"
    run_in "$src" npm ci --no-audit --no-fund ||
      step_failed "npm ci failed in $src (if the lock file is out of step with package.json, run npm install there; if the registry was unreachable, check the network or npm's registry setting)"
  fi
  say "building meshctl in $src ($reason: npm run build)"
  run_in "$src" npm run build || step_failed "npm run build failed in $src (fix the compile errors it shows, then run install.sh again)"
}

# A lock file for the staging directory: the checkout's package-lock.json
# entries that production needs, plus the packed meshctl itself, so npm ci
# installs exactly the versions (and integrity hashes) the checkout was tested
# with, instead of re-resolving the version ranges.
write_staging_package() {
  node -e '
    const fs = require("fs");
    const [dir, pkgPath, lockPath, tarball, integrity] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(pkgPath, "utf8"));
    const spec = "file:" + tarball;
    const root = { name: "meshctl-install", private: true,
      description: "meshctl as installed by install.sh (see install-manifest)",
      dependencies: { meshctl: spec } };
    // Let npm run the install scripts the project allows (the node package
    // installs its platform binary in its preinstall).
    if (pkg.allowScripts) root.allowScripts = pkg.allowScripts;
    fs.writeFileSync(dir + "/package.json", JSON.stringify(root, null, 2) + "\n");
    if (!lockPath) process.exit(0);
    const lock = JSON.parse(fs.readFileSync(lockPath, "utf8"));
    if (!lock.packages || !(lock.lockfileVersion >= 2)) {
      console.error("package-lock.json has lockfileVersion " + lock.lockfileVersion + "; run npm install with npm 7 or later to upgrade it");
      process.exit(3);
    }
    const packages = { "": { name: root.name, dependencies: root.dependencies } };
    const self = { version: pkg.version, resolved: spec, integrity };
    for (const key of ["dependencies", "optionalDependencies", "peerDependencies", "bin", "engines", "license"]) {
      if (pkg[key] !== undefined) self[key] = pkg[key];
    }
    packages["node_modules/meshctl"] = self;
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === "" || entry.dev || entry.link || !path.startsWith("node_modules/")) continue;
      packages[path] = entry;
    }
    const out = { name: root.name, lockfileVersion: 3, requires: true, packages };
    fs.writeFileSync(dir + "/package-lock.json", JSON.stringify(out, null, 2) + "\n");
  ' "$@"
}

install_meshctl() {
  command -v npm >/dev/null 2>&1 ||
    die "npm was not found on PATH (install it, e.g. apt-get install npm, dnf install npm, or Node.js from nodejs.org; any Node.js with npm 7 or later can bootstrap meshctl)"
  command -v node >/dev/null 2>&1 || die "npm is on PATH but node is not (fix the Node.js installation that npm belongs to)"

  src=$(cd "$(dirname "$0")" && pwd)
  [ -f "$src/package.json" ] && [ "$(node -p 'require(process.argv[1]).name' "$src/package.json" 2>/dev/null)" = "$PACKAGE" ] ||
    die "$src is not a meshctl checkout (run install.sh from the meshctl repository, e.g. cd meshctl && ./install.sh)"

  # --- checks that need no download, before changing anything ------------------
  previous_link=
  if [ -f "$manifest" ]; then
    previous_version=$(manifest_value version "$manifest")
    previous_link=$(manifest_value link "$manifest")
    previous_target=$(manifest_value link_target "$manifest")
    for pkg in $(manifest_values system_package "$manifest"); do
      system_packages_installed="$system_packages_installed $pkg"
    done
  elif [ -L "$prefix" ] || { [ -e "$prefix" ] && [ ! -d "$prefix" ]; }; then
    die "$prefix exists and is not a directory install.sh made (remove it, or give another --prefix)"
  elif [ -d "$prefix" ] && [ -n "$(ls -A "$prefix")" ]; then
    die "$prefix exists, is not empty and has no $MANIFEST_NAME, so install.sh did not install it; not replacing it (remove it, or give another --prefix)"
  fi
  parent=$(dirname "$prefix")
  mkdir -p "$parent" 2>/dev/null && [ -w "$parent" ] ||
    die "cannot write to $parent (run as root, e.g. sudo $0, or give a --prefix you can write to)"
  [ -d "$bin_dir" ] || die "the bin directory $bin_dir does not exist (create it, or give another --bin-dir)"
  [ -w "$bin_dir" ] || die "cannot write to $bin_dir (run as root, e.g. sudo $0, or give a --bin-dir you can write to)"
  if { [ -e "$link" ] || [ -L "$link" ]; } && ! links_to "$link" "$target"; then
    die "$link exists and is not install.sh's link to $target; not replacing it (remove it, or give another --bin-dir)"
  fi

  if [ -f "$manifest" ]; then
    say "replacing meshctl ${previous_version:-of unknown version} in $prefix"
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/meshctl-install.XXXXXX")
  : >"$work/install.log"
  # tsc (5.7 and later) and npm on Node.js 22 or later keep a compile cache in
  # $TMPDIR/node-compile-cache; the build's goes where install.sh cleans up.
  NODE_COMPILE_CACHE=$work/node-compile-cache
  export NODE_COMPILE_CACHE

  install_iptables
  build_if_needed

  # --- pack the build ------------------------------------------------------------
  say "packing meshctl (npm pack)"
  run_in "$src" sh -c 'exec npm pack --json --pack-destination "$1" >"$1/pack.json"' sh "$work" ||
    step_failed "npm pack failed in $src"
  # The JSON may be preceded by the output of pack's lifecycle scripts.
  packed=$(node -e '
    const text = require("fs").readFileSync(process.argv[1], "utf8");
    const [p] = JSON.parse(text.slice(text.indexOf("[")));
    console.log(p.filename, p.version, p.integrity);
  ' "$work/pack.json") || step_failed "could not read the output of npm pack"
  set -- $packed
  tarball=$1 version=$2 integrity=$3

  # --- install it with its production dependencies into a staging directory -----
  staging=$prefix.staging.$$
  rm -rf "$staging"
  mkdir "$staging"
  cp "$work/$tarball" "$staging/$tarball"
  if [ -f "$src/package-lock.json" ]; then
    write_staging_package "$staging" "$src/package.json" "$src/package-lock.json" "$tarball" "$integrity" >>"$work/install.log" 2>&1 ||
      step_failed "could not derive the install's lock file from $src/package-lock.json"
    say "installing meshctl $version and its production dependencies, Node.js 24 among them, as locked in package-lock.json (npm ci --omit=dev)"
    run_in "$staging" npm ci --omit=dev --no-audit --no-fund --prefer-offline ||
      step_failed "npm ci --omit=dev failed (if it says package.json and package-lock.json are not in sync, run npm install in $src and try again; if the registry was unreachable, check the network or npm's registry setting)"
  else
    write_staging_package "$staging" "$src/package.json" "" "$tarball" "$integrity" >>"$work/install.log" 2>&1 ||
      step_failed "could not write $staging/package.json"
    say "installing meshctl $version and its production dependencies, Node.js 24 among them (npm install --omit=dev; no package-lock.json, so the newest versions in range)"
    run_in "$staging" npm install --omit=dev --no-audit --no-fund --prefer-offline "./$tarball" ||
      step_failed "npm install --omit=dev failed (if the registry was unreachable, check the network or npm's registry setting)"
  fi

  # --- check the staged install before it replaces anything ------------------------
  runtime=$staging/node_modules/node/bin/node
  [ -x "$runtime" ] ||
    step_failed "the Node.js runtime was not installed at node_modules/node/bin/node: the node package's preinstall script, which installs node-<os>-<cpu>, did not run or failed (check that npm runs install scripts: ignore-scripts must be false)"
  runtime_version=$("$runtime" -p process.version) || step_failed "the installed Node.js runtime does not run on this machine"
  case $runtime_version in
    v2[4-9].* | v[3-9][0-9].*) ;;
    *) die "the installed runtime is Node.js $runtime_version, but meshctl needs 24 or later (check the version of the node package in package-lock.json)" ;;
  esac
  reported=$("$staging/node_modules/$PACKAGE/bin/meshctl" --version 2>>"$work/install.log") ||
    step_failed "the staged meshctl does not start (meshctl --version failed)"
  [ "$reported" = "$version" ] || warn "meshctl --version says $reported, but package.json says $version"

  {
    printf '# meshctl install manifest, written by install.sh. install.sh --uninstall\n'
    printf '# removes this directory and the link below, and nothing else.\n'
    printf 'format 1\n'
    printf 'version %s\n' "$version"
    printf 'runtime %s\n' "$runtime_version"
    printf 'installed_at %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'source %s\n' "$src"
    printf 'prefix %s\n' "$prefix"
    printf 'link %s\n' "$link"
    printf 'link_target %s\n' "$target"
    for pkg in $system_packages_installed; do
      printf 'system_package %s\n' "$pkg"
    done
  } >"$staging/$MANIFEST_NAME"

  # --- move it into place ---------------------------------------------------------
  if [ -d "$prefix" ]; then
    old=$prefix.old.$$
    mv "$prefix" "$old" || die "cannot move the previous install $prefix aside (run as root, e.g. sudo $0)"
    if ! mv "$staging" "$prefix"; then
      mv "$old" "$prefix"
      die "cannot move the new install into $prefix; the previous install is back in place"
    fi
    staging=
    rm -rf "$old"
  else
    mv "$staging" "$prefix" || die "cannot move the new install into $prefix"
    staging=
  fi
  say "installed meshctl $version with Node.js $runtime_version in $prefix"

  if [ -n "$previous_link" ] && [ "$previous_link" != "$link" ] && links_to "$previous_link" "$previous_target"; then
    rm -f "$previous_link" && say "removed the previous install's link $previous_link"
  fi
  if links_to "$link" "$target"; then
    say "$link already links to $target"
  else
    tmp_link=$bin_dir/.meshctl.link.$$
    rm -f "$tmp_link"
    ln -s "$target" "$tmp_link" && mv -f "$tmp_link" "$link" || {
      rm -f "$tmp_link"
      die "could not link $link to $target (meshctl is installed in $prefix; fix the permissions of $bin_dir and run install.sh again)"
    }
    say "linked $link -> $target"
  fi
  case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) warn "$bin_dir is not on PATH: add it, or run $link" ;;
  esac
  say "done: run meshctl --help to start"
}

system_packages_installed=
if [ "$mode" = uninstall ]; then
  uninstall
else
  install_meshctl
fi
