#!/usr/bin/env bash
# The nudge container's commands, in one place: the image runs them, and so
# does CI (.ci/compose-commands) without Docker, with the compose file's env.
#
#   entrypoint.sh bootstrap     store the admin key in $NUDGE_BOOTSTRAP_ADMIN_KEY_FILE
#                               (hashed) unless an admin key is in force, then exit
#   entrypoint.sh serve [ARGS]  nudge serve, configured by the NUDGE_* environment; on
#                               every interface, it advertises the container's own
#                               address unless NUDGE_ADVERTISE_URL says otherwise
#   entrypoint.sh healthcheck   exit 0 when GET /readyz on $NUDGE_LISTEN's port answers 200
#   entrypoint.sh ARGS...       any other nudge command (keys list, train, ...)
set -euo pipefail

# GET /readyz over bash's /dev/tcp: the runtime image needs no HTTP client.
healthcheck() {
  local listen=${NUDGE_LISTEN:-127.0.0.1:8080}
  local port=${listen##*:} status
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
  read -r -t 5 _ status _ <&3
  [ "$status" = 200 ]
}

# Where the other replicas reach this one: the address /etc/hosts gives the
# container's host name (Docker and Kubernetes both write it there), on
# $NUDGE_LISTEN's port; nothing when NUDGE_LISTEN names a host of its own.
advertise_url() {
  local listen=${NUDGE_LISTEN:-127.0.0.1:8080} ip names name
  case "${listen%:*}" in 0.0.0.0 | "[::]") ;; *) return 0 ;; esac
  while read -r ip names; do
    [[ $ip == \#* ]] && continue
    for name in $names; do
      if [ "$name" = "$HOSTNAME" ]; then
        [[ $ip == *:* ]] && ip="[$ip]"
        echo "http://$ip:${listen##*:}"
        return 0
      fi
    done
  done </etc/hosts
}

case "${1:-serve}" in
  bootstrap)
    exec nudge keys bootstrap
    ;;
  serve)
    shift || true
    if [ -z "${NUDGE_ADVERTISE_URL:-}" ]; then
      NUDGE_ADVERTISE_URL=$(advertise_url)
      if [ -n "$NUDGE_ADVERTISE_URL" ]; then export NUDGE_ADVERTISE_URL; else unset NUDGE_ADVERTISE_URL; fi
    fi
    exec nudge serve "$@"
    ;;
  healthcheck)
    healthcheck
    ;;
  *)
    exec nudge "$@"
    ;;
esac
