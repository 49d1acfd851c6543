#!/usr/bin/env bash
# Install the system packages that `make test` and `make book` need, when they are missing:
#   npm       tools/js_assets.py fetches the book's JavaScript with `npm pack`   (make book, test)
#   chromium  the browser tests drive Debian's Chromium at /usr/bin/chromium    (make test)
#   etcd-server, zookeeperd  real coordination services for page 04.06          (make test)
# Usage: tools/system_packages.sh npm [chromium] [etcd-server] [zookeeperd]
# As root it runs apt-get; otherwise it uses sudo when sudo works without a password; when
# neither can, it prints the exact command to run and fails.
set -euo pipefail

missing=()
for package in "$@"; do
    case "$package" in
        chromium) [ -x /usr/bin/chromium ] || missing+=(chromium) ;;
        npm) command -v npm >/dev/null || missing+=(npm) ;;
        etcd-server) command -v etcd >/dev/null || missing+=(etcd-server) ;;
        zookeeperd) [ -e /usr/share/java/zookeeper.jar ] || missing+=(zookeeperd) ;;
        *) echo "tools/system_packages.sh: unknown package $package (known: npm, chromium," \
                "etcd-server, zookeeperd)" >&2
           exit 2 ;;
    esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

command="apt-get update -q && apt-get install -y -q ${missing[*]}"
if ! command -v apt-get >/dev/null; then
    echo "make: ${missing[*]} missing, and this machine has no apt-get: install ${missing[*]}" \
         "with your system's package manager (Chromium must be at /usr/bin/chromium)." >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "make: ${missing[*]} missing; install them as root, then run make again:" >&2
    echo "    sudo sh -c '$command'" >&2
    exit 1
fi
echo "make: installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q "${missing[@]}"
