#!/bin/sh
# fetch-xinetd.sh CACHEDIR: print the path of an xinetd binary to test with.
#
# xinetd and openbsd-inetd conflict as Debian packages, and the tests use
# both, so xinetd is not installed: its package is downloaded with
# `apt-get download` and unpacked with `dpkg -x` into CACHEDIR, once.  An
# installed xinetd is used as it is.  Exits 1 with a reason on stderr when
# neither works (no apt, no network to the Debian mirror, a library
# missing).
set -eu

if command -v xinetd >/dev/null 2>&1; then
	command -v xinetd
	exit 0
fi
[ $# -eq 1 ] || { echo "usage: fetch-xinetd.sh CACHEDIR" >&2; exit 64; }
dir=$1/xinetd
bin=$dir/root/usr/sbin/xinetd
if [ ! -x "$bin" ]; then
	command -v apt-get >/dev/null 2>&1 ||
		{ echo "fetch-xinetd: no apt-get" >&2; exit 1; }
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	# apt drops to the _apt user to download unless it can't write the
	# directory; that only costs a warning.
	if ! (cd "$dir.tmp" && timeout 120 apt-get download -q xinetd) \
	    >"$dir.tmp/log" 2>&1; then
		echo "fetch-xinetd: apt-get download xinetd failed:" >&2
		tail -n 3 "$dir.tmp/log" >&2
		exit 1
	fi
	dpkg -x "$dir.tmp"/xinetd_*.deb "$dir.tmp/root"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
fi
# The libraries it links (libwrap, libtirpc ...) come with openbsd-inetd
# and the base system; say which one is missing rather than fail later.
if command -v ldd >/dev/null 2>&1 && ldd "$bin" | grep -q 'not found'; then
	echo "fetch-xinetd: $bin needs: $(ldd "$bin" | grep "not found" | tr -s "\n\t" "  ")" >&2
	exit 1
fi
echo "$bin"
