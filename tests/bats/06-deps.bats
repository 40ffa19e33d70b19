#!/usr/bin/env bats
# scripts/deps as root, with apt-get, dpkg-query, systemctl and service
# replaced by fakes that record what they were asked: it installs, keeps
# Debian from starting the new daemons, and stops nothing.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	F=$T/fake
	mkdir -p "$F"
	export PP_DEPS_POLICY_RC_D=$T/policy-rc.d CALLS=$T/calls
	: > "$CALLS"
	printf '#!/bin/sh\n[ "$1" = -u ] && echo 0 || exec /usr/bin/id "$@"\n' > "$F/id"
	# Nothing is installed.
	printf '#!/bin/sh\nexit 1\n' > "$F/dpkg-query"
	printf '#!/bin/sh\ncat > /dev/null\n' > "$F/debconf-set-selections"
	# apt-get records what the policy answers for starting a daemon.
	cat > "$F/apt-get" <<-'EOS'
	#!/bin/sh
	[ "$1" = update ] && exit 0
	if [ -x "$PP_DEPS_POLICY_RC_D" ]; then
		"$PP_DEPS_POLICY_RC_D" haproxy start
		echo "policy $?" >> "$CALLS"
	else
		echo "policy none" >> "$CALLS"
	fi
	exit "${APT_RC:-0}"
	EOS
	for s in systemctl service; do
		printf '#!/bin/sh\necho "%s $*" >> "$CALLS"\n' "$s" > "$F/$s"
	done
	chmod +x "$F"/*
	export PATH=$F:$PATH
}

@test "deps installs with daemon starts refused and stops no running service" {
	run -0 sh "$PP_TOP/scripts/deps"
	assert_contains "$output" "deps: installing:"
	assert_eq "$(cat "$CALLS")" "policy 101"
	[ ! -e "$PP_DEPS_POLICY_RC_D" ]
}

@test "deps removes its policy-rc.d when apt-get fails" {
	APT_RC=100 run -100 sh "$PP_TOP/scripts/deps"
	assert_eq "$(cat "$CALLS")" "policy 101"
	[ ! -e "$PP_DEPS_POLICY_RC_D" ]
}

@test "deps leaves a policy-rc.d the system already has as it was" {
	printf '#!/bin/sh\nexit 0\n' > "$PP_DEPS_POLICY_RC_D"
	chmod 755 "$PP_DEPS_POLICY_RC_D"
	run -0 sh "$PP_TOP/scripts/deps"
	assert_eq "$(cat "$CALLS")" "policy 0"
	assert_eq "$(cat "$PP_DEPS_POLICY_RC_D")" "$(printf '#!/bin/sh\nexit 0')"
}
